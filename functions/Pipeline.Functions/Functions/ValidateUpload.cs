using System.Text.Json.Nodes;
using Pipeline.Functions.Http;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Infra.Uploads;

namespace Pipeline.Functions;

/// <summary>One upload as the blob trigger delivers it: name under uploads/, content, ETag, declared length, user metadata.</summary>
public sealed record UploadEvent(string Name, ReadOnlyMemory<byte> Content, string? ETag = null, long? DeclaredLength = null, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>A job an accepted upload produced and what publishing it did.</summary>
public sealed record PublishedJob(JobEnvelope Job, PublishOutcome Outcome);

/// <summary>What ValidateUpload did with one upload.</summary>
public sealed record ValidateUploadResult(UploadVerdict Verdict, IReadOnlyList<PublishedJob> Published, string? RejectionPath);

/// <summary>
/// ValidateUpload: blob trigger on uploads/{name} (Event Grid source). Accepted uploads become queued jobs
/// (status/&lt;jobId&gt;.json + a message with MessageId = job id); rejected ones get rejected/&lt;uploadId&gt;.json.
/// The upload itself is never modified. Both outcomes complete the invocation; it fails only when storage or the queue
/// failed, so the host retries (a retry is harmless: ids are deterministic and publishing is idempotent).
/// </summary>
public sealed class ValidateUpload(UploadValidator validator, JobPublisher publisher, IBlobStore store, TimeProvider time, ILogger<ValidateUpload> log)
{
    /// <summary>Function name (the Event Grid subscription's webhook names it: functionName=Host.Functions.ValidateUpload).</summary>
    public const string Name = "ValidateUpload";
    /// <summary>Binding name of the blob.</summary>
    public const string BindingName = "upload";
    /// <summary>The blob path the trigger watches.</summary>
    public const string BlobPath = BlobLayout.Uploads + "/{name}";
    /// <summary>The app-setting prefix of the data account connection (PipelineStorage__blobServiceUri, ...).</summary>
    public const string Connection = "PipelineStorage";

    /// <summary>The trigger: content and name from the binding, ETag, length and user metadata from the trigger metadata.</summary>
    [Function(Name)]
    public Task<ValidateUploadResult> RunAsync(
        [BlobTrigger(BlobPath, Source = BlobTriggerSource.EventGrid, Connection = Connection)] byte[]? upload,
        FunctionContext context,
        string? name = null)
    {
        var data = context.BindingContext.BindingData;
        name ??= data.GetValueOrDefault("name") as string
            ?? NameFromUri(data.GetValueOrDefault("Uri")?.ToString())
            ?? throw new InvalidOperationException("The trigger metadata has no blob name.");
        var properties = JsonFields.AsObject(data.GetValueOrDefault("Properties"));
        var metadata = ReadMetadata(JsonFields.AsObject(data.GetValueOrDefault("Metadata")));
        return ValidateAsync(new UploadEvent(name, upload ?? [], ETagOf(properties), LengthOf(properties), metadata), context.CancellationToken);
    }

    /// <summary>Validates one upload and publishes its jobs or stores its rejection (the trigger and `pipeline demo` call this).</summary>
    public async Task<ValidateUploadResult> ValidateAsync(UploadEvent upload, CancellationToken cancellationToken)
    {
        var name = upload.Name;
        var etag = upload.ETag;
        if (etag is null && BlobNames.IsSafeRelative(name, out _))
            etag = (await store.GetPropertiesAsync(BlobLayout.Upload(name), cancellationToken))?.ETag.Trim('"');
        var metadata = upload.Metadata ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        // Size cap before the content is decoded: the declared length, then the content's.
        var verdict = upload.DeclaredLength is long d ? validator.PrecheckSize(name, d) : null;
        verdict ??= validator.PrecheckSize(name, upload.Content.Length);
        verdict ??= validator.Validate(new UploadCandidate(name, etag, upload.Content, metadata));

        var published = new List<PublishedJob>();
        string? rejectionPath = null;
        if (verdict.Accepted)
        {
            // An upload's jobs go as one batch per queue.
            var outcomes = await publisher.PublishManyAsync(verdict.Jobs, cancellationToken);
            for (var i = 0; i < verdict.Jobs.Count; i++)
            {
                var job = verdict.Jobs[i];
                published.Add(new PublishedJob(job, outcomes[i]));
                log.LogInformation("{Upload}: {Kind} job {JobId} {Outcome}", name, job.Kind, job.JobId, outcomes[i].ToString().ToLowerInvariant());
            }
            foreach (var note in verdict.Notes) log.LogInformation("{Upload}: {Note}", name, note);
        }
        else
        {
            rejectionPath = RejectionPath(name, etag);
            var blob = new BlobRef(BlobNames.IsSafeRelative(name, out _) ? BlobLayout.Upload(name) : "uploads/(unsafe name)", etag);
            await store.PutJsonAsync(rejectionPath, verdict.ToRejection(blob, time.GetUtcNow()), cancellationToken: cancellationToken);
            log.LogInformation("Upload {Upload} rejected: {Code} {Message}", name, verdict.Code, verdict.Message);
        }
        return new ValidateUploadResult(verdict, published, rejectionPath);
    }

    /// <summary>rejected/&lt;uploadId&gt;.json; an unusable name is stored under a hash of itself so it cannot escape.</summary>
    public static string RejectionPath(string uploadId, string? etag) =>
        BlobNames.IsSafeRelative(uploadId, out _) && uploadId.Length < BlobNames.MaxRelativeLength - 5
            ? BlobLayout.Rejection(uploadId)
            : BlobLayout.Rejection(JobIds.ForParts("badname", null, uploadId, etag ?? ""));

    private static string? NameFromUri(string? uri)
    {
        if (uri is null || !Uri.TryCreate(uri.Trim('"'), UriKind.Absolute, out var u)) return null;
        var path = Uri.UnescapeDataString(u.AbsolutePath.TrimStart('/'));
        var marker = BlobLayout.Uploads + "/";
        var at = path.IndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? null : path[(at + marker.Length)..];
    }

    /// <summary>The ETag of the trigger's blob properties (a string, or an object with a value, quoted or not).</summary>
    internal static string? ETagOf(JsonObject? properties)
    {
        var node = JsonFields.Get(properties, "ETag") ?? JsonFields.Get(properties, "Etag");
        var text = node switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonObject o => JsonFields.GetString(o, "value"),
            _ => null,
        };
        return string.IsNullOrWhiteSpace(text) ? null : text.Trim('"');
    }

    /// <summary>The declared length of the trigger's blob properties.</summary>
    internal static long? LengthOf(JsonObject? properties)
    {
        foreach (var key in new[] { "ContentLength", "Length" })
            if (JsonFields.Get(properties, key) is JsonValue v && v.TryGetValue<long>(out var n)) return n;
        return null;
    }

    /// <summary>User metadata of the trigger's blob (string values).</summary>
    internal static Dictionary<string, string> ReadMetadata(JsonObject? meta)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (meta is null) return map;
        foreach (var (k, v) in meta)
            if (v is JsonValue jv) map[k] = jv.TryGetValue<string>(out var s) ? s : jv.ToJsonString();
        return map;
    }
}
