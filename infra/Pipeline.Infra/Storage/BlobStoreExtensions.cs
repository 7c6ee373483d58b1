using System.Text;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Storage;

/// <summary>Convenience operations over <see cref="IBlobStore"/>.</summary>
public static class BlobStoreExtensions
{
    /// <summary>Writes bytes.</summary>
    public static Task<BlobProperties> PutBytesAsync(this IBlobStore store, string path, ReadOnlyMemory<byte> bytes, BlobPutOptions? options = null, CancellationToken cancellationToken = default)
    {
        var ms = new MemoryStream(bytes.ToArray(), writable: false);
        return store.PutAsync(path, ms, options, cancellationToken);
    }

    /// <summary>Reads the whole blob, or null when absent.</summary>
    public static async Task<(byte[] Bytes, BlobProperties Properties)?> GetBytesAsync(this IBlobStore store, string path, CancellationToken cancellationToken = default)
    {
        await using var d = await store.GetAsync(path, null, cancellationToken);
        if (d is null) return null;
        using var ms = new MemoryStream();
        await d.Content.CopyToAsync(ms, cancellationToken);
        return (ms.ToArray(), d.Properties);
    }

    /// <summary>Writes a contract object as JSON (application/json).</summary>
    public static Task<BlobProperties> PutJsonAsync<T>(this IBlobStore store, string path, T value, BlobConditions? conditions = null, CancellationToken cancellationToken = default) =>
        store.PutBytesAsync(path, JobJson.ToUtf8(value), new BlobPutOptions { ContentType = "application/json", Conditions = conditions }, cancellationToken);

    /// <summary>Reads a contract object, or default when absent.</summary>
    public static async Task<T?> GetJsonAsync<T>(this IBlobStore store, string path, CancellationToken cancellationToken = default) where T : class
    {
        var r = await store.GetBytesAsync(path, cancellationToken);
        return r is null ? null : JobJson.FromUtf8<T>(r.Value.Bytes);
    }

    /// <summary>
    /// Claim once: creates the blob only if it does not exist. True = this caller created it; false = someone already had.
    /// The worker uses it to make side effects happen once per job id even when a message is delivered twice.
    /// </summary>
    public static async Task<bool> TryCreateAsync(this IBlobStore store, string path, ReadOnlyMemory<byte> bytes, string contentType = "application/octet-stream", IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default)
    {
        try
        {
            await store.PutBytesAsync(path, bytes, new BlobPutOptions { ContentType = contentType, Metadata = metadata, Conditions = BlobConditions.IfNotExists }, cancellationToken);
            return true;
        }
        catch (BlobConditionFailedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Appends one JSON line to a .jsonl blob with optimistic concurrency (read, append, write If-Match; retry on conflict),
    /// so concurrent workers never lose each other's lines.
    /// </summary>
    public static async Task AppendJsonLineAsync<T>(this IBlobStore store, string path, T record, int maxAttempts = 16, CancellationToken cancellationToken = default)
    {
        var line = JobJson.ToUtf8(record);
        for (var attempt = 1; ; attempt++)
        {
            var current = await store.GetBytesAsync(path, cancellationToken);
            var existing = current?.Bytes ?? [];
            var buffer = new byte[existing.Length + line.Length + 1];
            existing.CopyTo(buffer, 0);
            line.CopyTo(buffer, existing.Length);
            buffer[^1] = (byte)'\n';
            var conditions = current is null ? BlobConditions.IfNotExists : BlobConditions.IfVersion(current.Value.Properties.ETag);
            try
            {
                await store.PutBytesAsync(path, buffer, new BlobPutOptions { ContentType = "application/x-ndjson", Conditions = conditions }, cancellationToken);
                return;
            }
            catch (BlobConditionFailedException) when (attempt < maxAttempts)
            {
                await Task.Delay(Random.Shared.Next(5, 20 * attempt), cancellationToken);
            }
        }
    }

    /// <summary>Reads all lines of a .jsonl blob (empty when absent).</summary>
    public static async Task<IReadOnlyList<T>> ReadJsonLinesAsync<T>(this IBlobStore store, string path, CancellationToken cancellationToken = default)
    {
        var r = await store.GetBytesAsync(path, cancellationToken);
        if (r is null) return [];
        return Encoding.UTF8.GetString(r.Value.Bytes)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JobJson.FromUtf8<T>(Encoding.UTF8.GetBytes(l)))
            .ToList();
    }
}
