using System.Collections.Concurrent;
using System.Security.Cryptography;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Jobs.Models;

namespace Pipeline.Worker.Jobs;

/// <summary>
/// Models come from the models/ area into a local cache, verified by sha256 (blob metadata "sha256" or a
/// sibling "&lt;name&gt;.sha256" blob), and are loaded once and kept warm for later jobs, within a memory budget
/// (<see cref="LoadedModels"/>): jobs lease a model and the least recently used idle ones are disposed when over it.
/// </summary>
public sealed class ModelCache(IBlobStore store, string cacheDirectory, long memoryBudgetBytes = ModelCache.DefaultMemoryBudgetBytes) : IDisposable
{
    /// <summary>4 GiB of parameters and buffers: a few StyleGAN2/Council models next to each other on a 16 GB GPU.</summary>
    public const long DefaultMemoryBudgetBytes = 4L << 30;

    private readonly ConcurrentDictionary<string, Lazy<Task<LocalModel>>> _files = new(StringComparer.Ordinal);
    private readonly LoadedModels _loaded = new(memoryBudgetBytes);

    /// <summary>Estimated bytes of the loaded models held now (<see cref="ModelSize"/>).</summary>
    public long LoadedBytes => _loaded.Bytes;

    /// <summary>Loaded models held now.</summary>
    public int LoadedCount => _loaded.Count;

    /// <summary>Models loaded since the start, reloads after eviction included.</summary>
    public long Loads => _loaded.Loads;

    internal LoadedModels Loaded => _loaded;

    /// <summary>A cached checkpoint file and its verified hash.</summary>
    public sealed record LocalModel(string BlobPath, string LocalPath, string Sha256);

    /// <summary>Downloads (once) and verifies the model file. A failed or cancelled download is not cached, so the next job retries it.</summary>
    public async Task<LocalModel> GetFileAsync(BlobRef model, CancellationToken cancellationToken)
    {
        var entry = _files.GetOrAdd(model.Path, p => new Lazy<Task<LocalModel>>(() => FetchAsync(p, cancellationToken)));
        try
        {
            return await entry.Value;
        }
        catch
        {
            _files.TryRemove(KeyValuePair.Create(model.Path, entry));
            throw;
        }
    }

    /// <summary>
    /// Downloads every blob under a models/ folder (a Council GAN council: member files + config.yaml) into one
    /// local folder, keeping their names, each verified like a single file. Returns the local folder.
    /// </summary>
    public async Task<LocalModel> GetFolderAsync(BlobRef folder, CancellationToken cancellationToken)
    {
        var prefix = folder.Path.EndsWith('/') ? folder.Path : folder.Path + "/";
        var blobs = new List<BlobProperties>();
        await foreach (var b in store.ListAsync(prefix, cancellationToken))
            if (!b.Path.EndsWith(".sha256", StringComparison.Ordinal)) blobs.Add(b);
        if (blobs.Count == 0) throw new PermanentJobException($"model folder '{prefix}' is empty or does not exist");
        var files = await Task.WhenAll(blobs.Select(b => GetFileAsync(new BlobRef(b.Path, b.ETag), cancellationToken)));
        var identity = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(string.Join('\n', files.OrderBy(f => f.BlobPath, StringComparer.Ordinal).Select(f => f.BlobPath + ":" + f.Sha256)))));
        var local = Path.Combine(cacheDirectory, "folders", identity[..16]);
        if (!Directory.Exists(local))
        {
            // Concurrent jobs of one council get here together: each assembles its own copy and the first move wins
            // (the identity is a hash of the contents, so the loser's copy is identical and simply dropped).
            var tmp = $"{local}.{Guid.NewGuid():N}.part";
            try
            {
                foreach (var f in files)
                {
                    var target = Path.Combine(tmp, f.BlobPath[prefix.Length..]);
                    Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                    File.Copy(f.LocalPath, target);
                }
                Directory.Move(tmp, local);
            }
            catch (IOException) when (Directory.Exists(local))
            {
                // another job finished the same folder first
            }
            finally
            {
                if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            }
        }
        return new LocalModel(prefix, local, identity);
    }

    /// <summary>
    /// Leases the model object of a folder, loaded once per (folder identity, type). Dispose the lease when the job is
    /// done with the model. <paramref name="size"/> overrides the estimate of its bytes (<see cref="ModelSize.Estimate"/>).
    /// </summary>
    public async Task<ModelLease<T>> GetFolderModelAsync<T>(BlobRef folder, Func<LocalModel, T> load, CancellationToken cancellationToken, Func<T, long>? size = null) where T : class
    {
        var local = await GetFolderAsync(folder, cancellationToken);
        return await _loaded.GetAsync(local.Sha256, () => LoadOrFail(folder, local, load), size ?? (m => ModelSize.Estimate(m)), cancellationToken);
    }

    private static T LoadOrFail<T>(BlobRef model, LocalModel file, Func<LocalModel, T> load) where T : class
    {
        try { return load(file); }
        catch (Exception e) when (e is InvalidDataException or KeyNotFoundException or NotSupportedException or FileNotFoundException or ArgumentException)
        {
            throw new PermanentJobException($"model '{model.Path}' cannot be loaded: {e.Message}", e);
        }
    }

    /// <summary>Whether a model blob exists (optional companions such as an encoder next to its generator).</summary>
    public async Task<bool> ExistsAsync(BlobRef model, CancellationToken cancellationToken) =>
        _files.ContainsKey(model.Path) || await store.GetPropertiesAsync(model.Path, cancellationToken) is not null;

    /// <summary>
    /// Leases the model object of a file, loaded once per (file hash, type) even when jobs race. Dispose the lease when
    /// the job is done with the model. <paramref name="size"/> overrides the estimate of its bytes (<see cref="ModelSize.Estimate"/>).
    /// </summary>
    public async Task<ModelLease<T>> GetAsync<T>(BlobRef model, Func<LocalModel, T> load, CancellationToken cancellationToken, Func<T, long>? size = null) where T : class
    {
        var file = await GetFileAsync(model, cancellationToken);
        return await _loaded.GetAsync(file.Sha256, () => LoadOrFail(model, file, load), size ?? (m => ModelSize.Estimate(m)), cancellationToken);
    }

    private async Task<LocalModel> FetchAsync(string path, CancellationToken cancellationToken)
    {
        var props = await store.GetPropertiesAsync(path, cancellationToken)
                    ?? throw new PermanentJobException($"model '{path}' does not exist in storage");
        var expected = props.Metadata.TryGetValue("sha256", out var m) ? m : null;
        if (expected is null)
        {
            var side = await store.GetBytesAsync(path + ".sha256", cancellationToken);
            expected = side is null ? null : System.Text.Encoding.ASCII.GetString(side.Value.Bytes).Trim().Split(' ')[0];
        }
        Directory.CreateDirectory(cacheDirectory);
        var local = Path.Combine(cacheDirectory, props.ETag.Trim('"').Replace('/', '_') + "-" + Path.GetFileName(path));
        if (!File.Exists(local))
        {
            await using var d = await store.GetAsync(path, null, cancellationToken)
                               ?? throw new PermanentJobException($"model '{path}' disappeared while downloading");
            var tmp = $"{local}.{Guid.NewGuid():N}.part"; // unique: another worker may share the cache folder
            await using (var fs = File.Create(tmp)) await d.Content.CopyToAsync(fs, cancellationToken);
            File.Move(tmp, local, overwrite: true);
        }
        string actual;
        await using (var fs = File.OpenRead(local)) actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, cancellationToken));
        if (expected is not null && !string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(local);
            throw new PermanentJobException($"model '{path}' failed verification: sha256 {actual}, expected {expected}");
        }
        return new LocalModel(path, local, actual);
    }

    public void Dispose() => _loaded.Dispose();
}
