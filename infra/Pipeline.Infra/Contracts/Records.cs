namespace Pipeline.Infra.Contracts;

/// <summary>Lifecycle of a job as written to status/&lt;jobId&gt;.json.</summary>
public enum JobState
{
    /// <summary>Enqueued, not yet picked up.</summary>
    Queued,
    /// <summary>A worker holds the message and is working.</summary>
    Running,
    /// <summary>Done; results/&lt;jobId&gt;/ holds the outputs and result.json.</summary>
    Succeeded,
    /// <summary>An attempt failed and the message will be retried.</summary>
    Retrying,
    /// <summary>Gave up: the message is in the dead-letter queue with a reason.</summary>
    Failed,
}

/// <summary>The status document (status/&lt;jobId&gt;.json) that front ends poll. Overwritten on each transition.</summary>
public sealed record JobStatus
{
    /// <summary>Schema version.</summary>
    public int SchemaVersion { get; init; } = 1;
    /// <summary>The job.</summary>
    public required string JobId { get; init; }
    /// <summary>The job kind.</summary>
    public required JobKind Kind { get; init; }
    /// <summary>Current state.</summary>
    public required JobState State { get; init; }
    /// <summary>When this status was written.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>Delivery attempt (1-based) that wrote this status.</summary>
    public int Attempt { get; init; }
    /// <summary>Progress 0..1 while running, when the work reports it.</summary>
    public double? Progress { get; init; }
    /// <summary>Human-readable detail: current phase, or the error of a failed attempt.</summary>
    public string? Message { get; init; }
    /// <summary>Set once succeeded: results/&lt;jobId&gt;/result.json.</summary>
    public string? ResultPath { get; init; }
}

/// <summary>A produced file, with its hash so consumers can verify what they read.</summary>
public sealed record OutputBlob(string Path, string ContentType, long Length, string? Sha256 = null, string? Role = null);

/// <summary>The result document written to results/&lt;jobId&gt;/result.json when a job succeeds.</summary>
public sealed record JobResult
{
    /// <summary>Schema version.</summary>
    public int SchemaVersion { get; init; } = 1;
    /// <summary>The job.</summary>
    public required string JobId { get; init; }
    /// <summary>The job kind.</summary>
    public required JobKind Kind { get; init; }
    /// <summary>The job body this result answers (so a result is self-describing).</summary>
    public required JobSpec Job { get; init; }
    /// <summary>Files written, in a stable order.</summary>
    public required IReadOnlyList<OutputBlob> Outputs { get; init; }
    /// <summary>Per-job numbers (e.g. final LPIPS of a projection, seconds per image).</summary>
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }
    /// <summary>What the job did not do although it succeeded, e.g. "skipped: no VGG16 weights" (null when nothing to say).</summary>
    public string? Note { get; init; }
    /// <summary>Work start.</summary>
    public required DateTimeOffset StartedAt { get; init; }
    /// <summary>Work end.</summary>
    public required DateTimeOffset FinishedAt { get; init; }
    /// <summary>Which worker did it (host name / replica).</summary>
    public string? Worker { get; init; }
    /// <summary>Device used ("cuda:0", "cpu").</summary>
    public string? Device { get; init; }
}

/// <summary>Why an upload was refused.</summary>
public enum RejectionReason
{
    /// <summary>Not a decodable image.</summary>
    NotAnImage,
    /// <summary>Decodable, but a format we do not accept.</summary>
    UnsupportedFormat,
    /// <summary>File size over the limit.</summary>
    TooLarge,
    /// <summary>Width/height outside the accepted range.</summary>
    BadDimensions,
    /// <summary>Declared pixel count far beyond what the file size can honestly hold.</summary>
    DecompressionBomb,
    /// <summary>The job needs a face and none was found.</summary>
    NoFace,
    /// <summary>The blob name is unsafe or unusable.</summary>
    BadName,
    /// <summary>Metadata asked for an unknown job or bad parameters.</summary>
    BadRequest,
}

/// <summary>The stored reason an upload was rejected: rejected/&lt;uploadId&gt;.json.</summary>
public sealed record Rejection
{
    /// <summary>Schema version.</summary>
    public int SchemaVersion { get; init; } = 1;
    /// <summary>Upload id (its path under uploads/).</summary>
    public required string UploadId { get; init; }
    /// <summary>The upload as seen (path + ETag).</summary>
    public required BlobRef Upload { get; init; }
    /// <summary>Machine-readable reason.</summary>
    public required RejectionReason Reason { get; init; }
    /// <summary>Message for the user: what was wrong and what to do.</summary>
    public required string Message { get; init; }
    /// <summary>When it was rejected.</summary>
    public required DateTimeOffset RejectedAt { get; init; }
    /// <summary>Measured facts (e.g. width, height, bytes, limit).</summary>
    public IReadOnlyDictionary<string, string>? Details { get; init; }
}

/// <summary>
/// One item of a dataset batch manifest. <paramref name="Thumbnail"/>: a small preview the gallery loads instead of the
/// full image (datasets/&lt;batchId&gt;/thumbs/...; null in batches written before thumbnails existed).
/// </summary>
public sealed record DatasetItem(string Path, long Seed, string? Sha256 = null, IReadOnlyDictionary<string, string>? Attributes = null, string? Thumbnail = null);

/// <summary>datasets/&lt;batchId&gt;/manifest.json: what a batch contains and how it was made.</summary>
public sealed record DatasetManifest
{
    /// <summary>Schema version.</summary>
    public int SchemaVersion { get; init; } = 1;
    /// <summary>The batch.</summary>
    public required string BatchId { get; init; }
    /// <summary>The job that produced it.</summary>
    public required string JobId { get; init; }
    /// <summary>The augmentation job.</summary>
    public required AugmentationBatchJob Job { get; init; }
    /// <summary>The images.</summary>
    public required IReadOnlyList<DatasetItem> Items { get; init; }
    /// <summary>When written.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
}
