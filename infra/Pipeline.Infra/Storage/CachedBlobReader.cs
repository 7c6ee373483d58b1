using System.Collections.Concurrent;

namespace Pipeline.Infra.Storage;

/// <summary>
/// Reads small JSON documents through an in-memory cache keyed by ETag: each read is a conditional GET
/// (If-None-Match: the cached ETag), so an unchanged document costs one request and no content. Meant for one
/// process-wide instance (a DI singleton) per store.
/// </summary>
public sealed class CachedBlobReader(IBlobStore store)
{
    private readonly ConcurrentDictionary<string, (string ETag, object Value)> _cache = new(StringComparer.Ordinal);

    /// <summary>The document parsed by <paramref name="parse"/>, or null when the blob does not exist.</summary>
    public async Task<T?> GetAsync<T>(string path, Func<byte[], T> parse, CancellationToken cancellationToken = default) where T : class
    {
        var hit = _cache.TryGetValue(path, out var h) && h.Value is T ? h : default;
        try
        {
            await using var d = await store.GetAsync(path, hit.ETag is null ? null : new BlobConditions { IfNoneMatch = hit.ETag }, cancellationToken);
            if (d is null)
            {
                _cache.TryRemove(path, out _);
                return null;
            }
            using var ms = new MemoryStream();
            await d.Content.CopyToAsync(ms, cancellationToken);
            var value = parse(ms.ToArray());
            _cache[path] = (d.Properties.ETag, value);
            return value;
        }
        catch (BlobConditionFailedException) when (hit.Value is T cached)
        {
            return cached; // 304: unchanged since the cached read
        }
    }

    /// <summary>A JSON contract document (<see cref="Contracts.JobJson"/>), or null when absent.</summary>
    public Task<T?> GetJsonAsync<T>(string path, CancellationToken cancellationToken = default) where T : class =>
        GetAsync(path, b => Contracts.JobJson.FromUtf8<T>(b), cancellationToken);
}
