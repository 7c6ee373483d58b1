using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Gallery;

/// <summary>A blob store in memory (ETags are a counter): fast enough to hold tens of thousands of documents in a test.</summary>
internal sealed class InMemoryBlobStore(TimeProvider? time = null) : IBlobStore
{
    private readonly ConcurrentDictionary<string, (byte[] Bytes, BlobProperties Props)> _blobs = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _version;

    /// <summary>When set, the last-modified time of the next writes (tests that need an order).</summary>
    public DateTimeOffset? Now { get; set; }

    public Task<BlobDownload?> GetAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        BlobLayout.Split(path);
        if (!_blobs.TryGetValue(path, out var b)) return Task.FromResult<BlobDownload?>(null);
        Check(path, b.Props, conditions);
        return Task.FromResult<BlobDownload?>(new BlobDownload(b.Props, new MemoryStream(b.Bytes, writable: false)));
    }

    public Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default) =>
        Task.FromResult(_blobs.TryGetValue(path, out var b) ? b.Props : null);

    public async Task<BlobProperties> PutAsync(string path, Stream content, BlobPutOptions? options = null, CancellationToken cancellationToken = default)
    {
        BlobLayout.Split(path);
        using var ms = new MemoryStream();
        await content.CopyToAsync(ms, cancellationToken);
        lock (_lock)
        {
            var exists = _blobs.TryGetValue(path, out var current);
            var c = options?.Conditions;
            if (c is not null)
            {
                if (exists) Check(path, current.Props, c);
                else if (c.IfMatch is not null) throw new BlobConditionFailedException(path, "blob does not exist (If-Match).");
            }
            var props = new BlobProperties
            {
                Path = path,
                ETag = "\"m" + Interlocked.Increment(ref _version) + "\"",
                Length = ms.Length,
                ContentType = options?.ContentType ?? "application/octet-stream",
                LastModified = Now ?? (time ?? TimeProvider.System).GetUtcNow(),
                Metadata = options?.Metadata ?? new Dictionary<string, string>(),
            };
            _blobs[path] = (ms.ToArray(), props);
            return props;
        }
    }

    public Task<BlobProperties> SetMetadataAsync(string path, IReadOnlyDictionary<string, string> metadata, BlobConditions? conditions = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public async IAsyncEnumerable<BlobProperties> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        BlobLayout.SplitPrefix(prefix);
        foreach (var b in _blobs.Values.Select(v => v.Props).Where(p => p.Path.StartsWith(prefix, StringComparison.Ordinal)).OrderBy(p => p.Path, StringComparer.Ordinal).ToList())
        {
            await Task.Yield();
            yield return b;
        }
    }

    public Task<bool> DeleteAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default) =>
        Task.FromResult(_blobs.TryRemove(path, out _));

    private static void Check(string path, BlobProperties current, BlobConditions? c)
    {
        if (c is null) return;
        if (c.IfMatch is not null && c.IfMatch != "*" && c.IfMatch != current.ETag) throw new BlobConditionFailedException(path, "If-Match failed.");
        if (c.IfNoneMatch is not null && (c.IfNoneMatch == "*" || c.IfNoneMatch == current.ETag)) throw new BlobConditionFailedException(path, "If-None-Match failed.");
    }
}

/// <summary>
/// Counts what callers ask of a store: listing calls (by prefix) and blobs listed, content reads (a GET that returned
/// content), conditional reads answered "not modified", property reads and writes.
/// </summary>
internal sealed class CountingBlobStore(IBlobStore inner) : IBlobStore
{
    private int _reads, _notModified, _properties, _lists, _listed, _writes;
    private readonly ConcurrentQueue<string> _readPaths = new();
    private readonly ConcurrentQueue<string> _listPrefixes = new();

    public int Reads => _reads;
    public int NotModified => _notModified;
    public int PropertyReads => _properties;
    public int Lists => _lists;
    public int Listed => _listed;
    public int Writes => _writes;
    public IReadOnlyList<string> ReadPaths => [.. _readPaths];
    public IReadOnlyList<string> ListPrefixes => [.. _listPrefixes];

    public void Reset()
    {
        _reads = _notModified = _properties = _lists = _listed = _writes = 0;
        _readPaths.Clear();
        _listPrefixes.Clear();
    }

    public async Task<BlobDownload?> GetAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        try
        {
            var d = await inner.GetAsync(path, conditions, cancellationToken);
            if (d is not null)
            {
                Interlocked.Increment(ref _reads);
                _readPaths.Enqueue(path);
            }
            return d;
        }
        catch (BlobConditionFailedException) when (conditions?.IfNoneMatch is { } e && e != "*")
        {
            Interlocked.Increment(ref _notModified);
            throw;
        }
    }

    public Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _properties);
        return inner.GetPropertiesAsync(path, cancellationToken);
    }

    public Task<BlobProperties> PutAsync(string path, Stream content, BlobPutOptions? options = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writes);
        return inner.PutAsync(path, content, options, cancellationToken);
    }

    public Task<BlobProperties> SetMetadataAsync(string path, IReadOnlyDictionary<string, string> metadata, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _writes);
        return inner.SetMetadataAsync(path, metadata, conditions, cancellationToken);
    }

    public async IAsyncEnumerable<BlobProperties> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _lists);
        _listPrefixes.Enqueue(prefix);
        await foreach (var b in inner.ListAsync(prefix, cancellationToken))
        {
            Interlocked.Increment(ref _listed);
            yield return b;
        }
    }

    public Task<bool> DeleteAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default) =>
        inner.DeleteAsync(path, conditions, cancellationToken);
}
