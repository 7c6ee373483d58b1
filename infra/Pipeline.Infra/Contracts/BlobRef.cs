namespace Pipeline.Infra.Contracts;

/// <summary>
/// A reference to a blob by its logical path ("uploads/me.jpg": the first segment is the container in Azure,
/// a folder locally) and, for inputs, the ETag the job was created from, so a worker can tell that the
/// input changed after the job was queued. Jobs carry these, never bytes (Service Bus caps messages at 256 KB).
/// </summary>
public sealed record BlobRef(string Path, string? ETag = null)
{
    /// <summary>The path with a trailing ETag for logs.</summary>
    public override string ToString() => ETag is null ? Path : $"{Path}@{ETag}";
}
