using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text.Json;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Storage;

/// <summary>Options of <see cref="FileSystemBlobStore"/>.</summary>
public sealed record FileSystemBlobStoreOptions
{
    /// <summary>Root folder; "uploads/a.png" lives at &lt;Root&gt;/uploads/a.png. App setting <c>Pipeline__Storage__Root</c>.</summary>
    public required string Root { get; init; }
}

/// <summary>
/// The embedded default: blobs as plain files under a root folder (browsable by people), with ETag, content type
/// and metadata in a sidecar JSON under &lt;root&gt;/.blobmeta/. Writes go to a temp file and are renamed into place;
/// a lock file serialises conditional writes across processes, so claim-once and If-Match hold for the
/// functions host and the worker sharing one folder.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private const string MetaDir = ".blobmeta";
    private readonly string _root;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates the store (the root is created if missing).</summary>
    public FileSystemBlobStore(FileSystemBlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _root = Path.GetFullPath(options.Root);
        Directory.CreateDirectory(Path.Combine(_root, MetaDir));
    }

    /// <summary>The root folder.</summary>
    public string Root => _root;

    /// <inheritdoc />
    public async Task<BlobDownload?> GetAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        var (file, meta) = Locate(path);
        // Read properties and open the content under the lock so the pair is consistent; the open handle keeps
        // the old content readable even if a writer renames a new file over it afterwards.
        using var _ = await LockAsync(cancellationToken);
        var props = ReadMeta(path, file, meta);
        if (props is null) return null;
        Check(path, props, conditions);
        var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81920, useAsync: true);
        return new BlobDownload(props, stream);
    }

    /// <inheritdoc />
    public async Task<BlobProperties?> GetPropertiesAsync(string path, CancellationToken cancellationToken = default)
    {
        var (file, meta) = Locate(path);
        using var _ = await LockAsync(cancellationToken);
        return ReadMeta(path, file, meta);
    }

    /// <inheritdoc />
    public async Task<BlobProperties> PutAsync(string path, Stream content, BlobPutOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        var (file, meta) = Locate(path);
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        Directory.CreateDirectory(Path.GetDirectoryName(meta)!);
        // Stream the content to a temp file outside the lock: big checkpoints must not block other writers.
        var tmp = file + ".tmp-" + Guid.NewGuid().ToString("N");
        long length;
        try
        {
            await using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 81920, useAsync: true))
            {
                await content.CopyToAsync(fs, cancellationToken);
                length = fs.Length;
            }
            using var _ = await LockAsync(cancellationToken);
            var current = ReadMeta(path, file, meta);
            CheckWrite(path, current, options?.Conditions);
            var props = new BlobProperties
            {
                Path = path,
                ETag = NewETag(),
                Length = length,
                ContentType = options?.ContentType ?? "application/octet-stream",
                LastModified = DateTimeOffset.UtcNow,
                Metadata = new Dictionary<string, string>(options?.Metadata ?? new Dictionary<string, string>()),
            };
            File.Move(tmp, file, overwrite: true);
            WriteMeta(meta, props);
            return props;
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <inheritdoc />
    public async Task<BlobProperties> SetMetadataAsync(string path, IReadOnlyDictionary<string, string> metadata, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        var (file, meta) = Locate(path);
        using var _ = await LockAsync(cancellationToken);
        var current = ReadMeta(path, file, meta) ?? throw new FileNotFoundException($"Blob '{path}' does not exist.");
        Check(path, current, conditions);
        var props = current with { ETag = NewETag(), LastModified = DateTimeOffset.UtcNow, Metadata = new Dictionary<string, string>(metadata) };
        WriteMeta(meta, props);
        return props;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BlobProperties> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var (area, _) = BlobLayout.SplitPrefix(prefix);
        if (!prefix.StartsWith(area + "/", StringComparison.Ordinal)) prefix = area + "/";
        // Walk only the deepest folder the prefix names, then filter by the full prefix (blob-style prefix semantics).
        var slash = prefix.LastIndexOf('/');
        var dir = Path.Combine(_root, slash < 0 ? "" : prefix[..slash]);
        if (!Directory.Exists(dir)) yield break;
        var names = Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(_root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && !n.StartsWith(MetaDir + "/", StringComparison.Ordinal) && !n.Contains(".tmp-", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var name in names)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var props = await GetPropertiesAsync(name, cancellationToken);
            if (props is not null) yield return props;
        }
    }

    /// <inheritdoc />
    public async Task<bool> DeleteAsync(string path, BlobConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        var (file, meta) = Locate(path);
        using var _ = await LockAsync(cancellationToken);
        var current = ReadMeta(path, file, meta);
        if (current is null)
        {
            if (conditions?.IfMatch is not null) throw new BlobConditionFailedException(path, "blob does not exist (If-Match).");
            return false;
        }
        Check(path, current, conditions);
        File.Delete(file);
        File.Delete(meta);
        return true;
    }

    private (string File, string Meta) Locate(string path)
    {
        BlobLayout.Split(path); // validates: known area, safe name
        var file = Path.GetFullPath(Path.Combine(_root, path));
        // Defence in depth: validation already forbids "..", but never touch anything outside the root.
        if (!file.StartsWith(_root + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"Blob path '{path}' escapes the store root.", nameof(path));
        return (file, Path.Combine(_root, MetaDir, path + ".json"));
    }

    private static BlobProperties? ReadMeta(string path, string file, string meta)
    {
        if (!File.Exists(file)) return null;
        if (File.Exists(meta))
        {
            var stored = JsonSerializer.Deserialize<StoredMeta>(File.ReadAllBytes(meta), JobJson.Options);
            if (stored is not null)
                return new BlobProperties { Path = path, ETag = stored.ETag, Length = new FileInfo(file).Length, ContentType = stored.ContentType, LastModified = stored.LastModified, Metadata = stored.Metadata };
        }
        // A file dropped in by hand (e.g. a user copying images into uploads/): derive a stable ETag from its stamp.
        var fi = new FileInfo(file);
        return new BlobProperties
        {
            Path = path,
            ETag = "\"fs-" + Convert.ToHexStringLower(SHA256.HashData(BitConverter.GetBytes(fi.LastWriteTimeUtc.Ticks ^ fi.Length)))[..16] + "\"",
            Length = fi.Length,
            ContentType = "application/octet-stream",
            LastModified = fi.LastWriteTimeUtc,
            Metadata = new Dictionary<string, string>(),
        };
    }

    private static void WriteMeta(string meta, BlobProperties p)
    {
        var tmp = meta + ".tmp-" + Guid.NewGuid().ToString("N");
        File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(new StoredMeta(p.ETag, p.ContentType, p.LastModified, new Dictionary<string, string>(p.Metadata)), JobJson.Options));
        File.Move(tmp, meta, overwrite: true);
    }

    private static void Check(string path, BlobProperties current, BlobConditions? c)
    {
        if (c is null) return;
        if (c.IfMatch is not null && c.IfMatch != "*" && c.IfMatch != current.ETag)
            throw new BlobConditionFailedException(path, $"ETag is {current.ETag}, If-Match wanted {c.IfMatch}.");
        if (c.IfNoneMatch is not null && (c.IfNoneMatch == "*" || c.IfNoneMatch == current.ETag))
            throw new BlobConditionFailedException(path, c.IfNoneMatch == "*" ? "blob already exists (If-None-Match: *)." : "ETag matches If-None-Match.");
    }

    private static void CheckWrite(string path, BlobProperties? current, BlobConditions? c)
    {
        if (c is null) return;
        if (current is null)
        {
            if (c.IfMatch is not null) throw new BlobConditionFailedException(path, "blob does not exist (If-Match).");
            return;
        }
        Check(path, current, c);
    }

    private static string NewETag() => "\"0x" + Convert.ToHexString(RandomNumberGenerator.GetBytes(8)) + "\"";

    // In-process gate + an exclusive lock file for other processes sharing the root.
    private async Task<IDisposable> LockAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        var lockPath = Path.Combine(_root, MetaDir, ".lock");
        for (var i = 0; ; i++)
        {
            try
            {
                var fs = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                return new Releaser(this, fs);
            }
            catch (IOException) when (i < 2000)
            {
                try { await Task.Delay(5, ct); }
                catch { _gate.Release(); throw; }
            }
            catch
            {
                _gate.Release();
                throw;
            }
        }
    }

    private sealed class Releaser(FileSystemBlobStore owner, FileStream fs) : IDisposable
    {
        public void Dispose()
        {
            fs.Dispose();
            owner._gate.Release();
        }
    }

    private sealed record StoredMeta(string ETag, string ContentType, DateTimeOffset LastModified, Dictionary<string, string> Metadata);
}
