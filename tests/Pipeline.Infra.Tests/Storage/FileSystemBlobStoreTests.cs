using Pipeline.Infra.Storage;

namespace Pipeline.Infra.Tests.Storage;

public sealed class FileSystemBlobStoreTests : BlobStoreContract, IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "pipeline-fsblob-" + Guid.NewGuid().ToString("N"));

    protected override Task<IBlobStore> CreateStoreAsync() =>
        Task.FromResult<IBlobStore>(new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root }));

    [Fact]
    public async Task Files_are_plain_files_under_the_root_and_hand_dropped_files_are_visible()
    {
        var store = (FileSystemBlobStore)await CreateStoreAsync();
        await store.PutBytesAsync("results/j/out.png", "png"u8.ToArray(), null, TestContext.Current.CancellationToken);
        Assert.Equal("png", File.ReadAllText(Path.Combine(_root, "results", "j", "out.png")));

        Directory.CreateDirectory(Path.Combine(_root, "uploads"));
        File.WriteAllText(Path.Combine(_root, "uploads", "dropped.jpg"), "jpeg");
        var p = await store.GetPropertiesAsync("uploads/dropped.jpg", TestContext.Current.CancellationToken);
        Assert.NotNull(p);
        Assert.Equal(4, p.Length);
        Assert.Equal(p.ETag, (await store.GetPropertiesAsync("uploads/dropped.jpg", TestContext.Current.CancellationToken))!.ETag);
    }

    [Fact]
    public async Task Two_store_instances_on_one_root_see_each_others_claims()
    {
        var a = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        var b = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        Assert.True(await a.TryCreateAsync("results/j/.claim", "a"u8.ToArray(), cancellationToken: TestContext.Current.CancellationToken));
        Assert.False(await b.TryCreateAsync("results/j/.claim", "b"u8.ToArray(), cancellationToken: TestContext.Current.CancellationToken));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }
}
