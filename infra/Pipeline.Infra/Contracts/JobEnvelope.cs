using System.Text.Json;

namespace Pipeline.Infra.Contracts;

/// <summary>
/// What travels on the queue: a versioned envelope around one job body. <see cref="JobId"/> is also the
/// Service Bus MessageId, so a retried enqueue of the same input is dropped by duplicate detection, and the
/// worker uses it as its idempotency key (results/&lt;jobId&gt;/, status/&lt;jobId&gt;.json).
/// </summary>
public sealed record JobEnvelope
{
    /// <summary>Schema version this code writes. Readers accept any version up to it.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>Content type of the serialized envelope (also the message content type).</summary>
    public const string ContentType = "application/vnd.pipeline.job+json; v=1";

    /// <summary>Envelope schema version.</summary>
    public int SchemaVersion { get; init; } = CurrentSchemaVersion;
    /// <summary>Deterministic id (see <see cref="JobIds"/>).</summary>
    public required string JobId { get; init; }
    /// <summary>The job kind, duplicated from the body so routers need not parse it.</summary>
    public required JobKind Kind { get; init; }
    /// <summary>When the job was first created (not part of the id).</summary>
    public DateTimeOffset CreatedAt { get; init; }
    /// <summary>Who asked for it (e.g. "blob-trigger", "timer", "cli"); not part of the id.</summary>
    public string? Source { get; init; }
    /// <summary>The job body.</summary>
    public required JobSpec Job { get; init; }

    /// <summary>Wraps a job with its deterministic id.</summary>
    public static JobEnvelope Create(JobSpec job, string? source = null, DateTimeOffset? createdAt = null, JobIdOptions? idOptions = null) =>
        new()
        {
            JobId = JobIds.For(job, idOptions),
            Kind = job.Kind,
            Job = job,
            Source = source,
            CreatedAt = createdAt ?? DateTimeOffset.UtcNow,
        };

    /// <summary>Serializes the envelope.</summary>
    public byte[] ToUtf8() => JobJson.ToUtf8(this);

    /// <summary>
    /// Reads and checks an envelope: known schema version, body kind equal to the envelope kind, safe id.
    /// Throws <see cref="InvalidJobException"/> (a poison message: dead-letter it, do not retry).
    /// </summary>
    public static JobEnvelope Parse(ReadOnlySpan<byte> json)
    {
        JobEnvelope env;
        try
        {
            env = JobJson.FromUtf8<JobEnvelope>(json);
        }
        catch (JsonException ex)
        {
            throw new InvalidJobException($"Job message is not a valid job envelope: {ex.Message}", ex);
        }
        catch (NotSupportedException ex)
        {
            throw new InvalidJobException($"Job message has an unknown job kind: {ex.Message}", ex);
        }
        if (env.SchemaVersion < 1 || env.SchemaVersion > CurrentSchemaVersion)
            throw new InvalidJobException($"Job schema version {env.SchemaVersion} is not supported (this worker reads 1..{CurrentSchemaVersion}); upgrade the worker.");
        if (env.Job.Kind != env.Kind)
            throw new InvalidJobException($"Envelope kind '{env.Kind}' does not match body kind '{env.Job.Kind}'.");
        if (!BlobNames.IsSafeId(env.JobId, out var why))
            throw new InvalidJobException($"Job id is not safe: {why}");
        return env;
    }
}

/// <summary>A job message that can never succeed (bad JSON, unknown kind or version): dead-letter it.</summary>
public sealed class InvalidJobException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InvalidJobException(string message, Exception? inner = null) : base(message, inner) { }
    /// <summary>Creates the exception.</summary>
    public InvalidJobException() { }
    /// <summary>Creates the exception.</summary>
    public InvalidJobException(string message) : base(message) { }
}
