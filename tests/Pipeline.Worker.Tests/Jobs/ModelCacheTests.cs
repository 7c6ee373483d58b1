using System.Security.Cryptography;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Jobs;

namespace Pipeline.Worker.Tests.Jobs;

public sealed class ModelCacheTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("model-cache-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task VerifiesSha256AndRetriesAFetchThatFailedBefore()
    {
        var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Path.Combine(_root, "store") });
        using var cache = new ModelCache(store, Path.Combine(_root, "cache"));
        var model = new BlobRef("models/g.pt");
        await Assert.ThrowsAsync<PermanentJobException>(() => cache.GetFileAsync(model, CancellationToken.None));

        byte[] bytes = [1, 2, 3, 4];
        await store.PutBytesAsync(model.Path, bytes, new BlobPutOptions { Metadata = new Dictionary<string, string> { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)) } });
        var file = await cache.GetFileAsync(model, CancellationToken.None);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(file.LocalPath));

        var bad = new BlobRef("models/bad.pt");
        await store.PutBytesAsync(bad.Path, bytes, new BlobPutOptions { Metadata = new Dictionary<string, string> { ["sha256"] = new string('0', 64) } });
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => cache.GetFileAsync(bad, CancellationToken.None));
        Assert.Contains("failed verification", e.Message);
    }

    [Fact]
    public async Task ConcurrentJobsOfOneModelFolderAllGetTheSameCompleteFolder()
    {
        // Two translation jobs of one council used to race on one ".part" folder; the loser failed its first attempt.
        var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Path.Combine(_root, "store") });
        using var cache = new ModelCache(store, Path.Combine(_root, "cache"));
        // Members of a few MB keep the copy window open long enough for the jobs to overlap.
        var files = new Dictionary<string, byte[]> { ["a_gen_0.pt"] = RandomNumberGenerator.GetBytes(8 << 20), ["a_gen_1.pt"] = RandomNumberGenerator.GetBytes(8 << 20), ["config.yaml"] = "x: 1\n"u8.ToArray() };
        foreach (var (name, bytes) in files) await store.PutBytesAsync("models/council/" + name, bytes);

        using var start = new ManualResetEventSlim();
        var jobs = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return await cache.GetFolderAsync(new BlobRef("models/council"), CancellationToken.None);
        })).ToArray();
        start.Set();
        var got = await Task.WhenAll(jobs);

        Assert.Single(got.Select(g => g.LocalPath).Distinct());
        foreach (var (name, bytes) in files) Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(got[0].LocalPath, name)));
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(_root, "cache", "folders"), "*.part"));
    }
}
