namespace Pipeline.Infra.Storage;

/// <summary>
/// The small blob surface the pipeline needs. Paths are "&lt;area&gt;/&lt;name&gt;" (see <c>BlobLayout</c>):
/// in Azure the area is the container. Implementations: <see cref="FileSystemBlobStore"/> (embedded default)
/// and <see cref="AzureBlobStore"/>. Both pass the same contract test suite.
/// </summary>
public interface IBlobStore
{
    /// <summary>Opens a blob for reading, or null when it does not exist. A failed condition throws <see cref="BlobConditionFailedException"/>.</summary>
    Task<BlobDownload?> GetAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default);

    /// <summary>Properties and metadata, or null when the blob does not exist.</summary>
    Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default);

    /// <summary>
    /// Writes (creates or replaces) a blob. <see cref="BlobPutOptions.Conditions"/> makes it conditional:
    /// IfNoneMatch "*" = create only (claim once), IfMatch = replace only that version (optimistic concurrency).
    /// A failed condition throws <see cref="BlobConditionFailedException"/>.
    /// </summary>
    Task<BlobProperties> PutAsync(string path, Stream content, BlobPutOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Replaces the user metadata (content unchanged; the ETag changes).</summary>
    Task<BlobProperties> SetMetadataAsync(string path, IReadOnlyDictionary<string, string> metadata, BlobConditions? conditions = null, CancellationToken cancellationToken = default);

    /// <summary>Blobs whose path starts with <paramref name="prefix"/> (which must include the area, e.g. "results/abc/"), ordinal order.</summary>
    IAsyncEnumerable<BlobProperties> ListAsync(string prefix, CancellationToken cancellationToken = default);

    /// <summary>Deletes a blob; false when it did not exist.</summary>
    Task<bool> DeleteAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default);
}

/// <summary>Preconditions of a read or write (HTTP If-Match / If-None-Match semantics).</summary>
public sealed record BlobConditions
{
    /// <summary>Only if the current ETag equals this.</summary>
    public string? IfMatch { get; init; }
    /// <summary>Only if the current ETag differs; "*" = only if the blob does not exist.</summary>
    public string? IfNoneMatch { get; init; }

    /// <summary>Create-only: fails when the blob exists (the claim-once primitive).</summary>
    public static BlobConditions IfNotExists { get; } = new() { IfNoneMatch = "*" };

    /// <summary>Replace only this version.</summary>
    public static BlobConditions IfVersion(string etag) => new() { IfMatch = etag };
}

/// <summary>Options of a write.</summary>
public sealed record BlobPutOptions
{
    /// <summary>Content type; default application/octet-stream.</summary>
    public string? ContentType { get; init; }
    /// <summary>User metadata (names: C# identifiers; values: ASCII).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
    /// <summary>Write preconditions.</summary>
    public BlobConditions? Conditions { get; init; }
}

/// <summary>What a store knows about a blob.</summary>
public sealed record BlobProperties
{
    /// <summary>Logical path ("area/name").</summary>
    public required string Path { get; init; }
    /// <summary>Opaque version tag; changes on every write.</summary>
    public required string ETag { get; init; }
    /// <summary>Size in bytes.</summary>
    public required long Length { get; init; }
    /// <summary>Content type.</summary>
    public required string ContentType { get; init; }
    /// <summary>Last write time.</summary>
    public required DateTimeOffset LastModified { get; init; }
    /// <summary>User metadata.</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
}

/// <summary>An open blob: properties plus a content stream. Dispose it.</summary>
public sealed class BlobDownload(BlobProperties properties, Stream content) : IAsyncDisposable, IDisposable
{
    /// <summary>Properties at the time of the read.</summary>
    public BlobProperties Properties { get; } = properties;
    /// <summary>The content.</summary>
    public Stream Content { get; } = content;
    /// <inheritdoc />
    public ValueTask DisposeAsync() => Content.DisposeAsync();
    /// <inheritdoc />
    public void Dispose() => Content.Dispose();
}

/// <summary>A precondition did not hold (412, or 409 for create-only on an existing blob).</summary>
public sealed class BlobConditionFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BlobConditionFailedException(string path, string message, Exception? inner = null) : base($"{path}: {message}", inner) => Path = path;
    /// <summary>Creates the exception.</summary>
    public BlobConditionFailedException() { Path = ""; }
    /// <summary>Creates the exception.</summary>
    public BlobConditionFailedException(string message) : base(message) { Path = ""; }
    /// <summary>Creates the exception.</summary>
    public BlobConditionFailedException(string message, Exception inner) : base(message, inner) { Path = ""; }
    /// <summary>The blob.</summary>
    public string Path { get; }
}
