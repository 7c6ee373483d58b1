using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Jobs;

namespace Pipeline.Worker.Tests.Jobs;

/// <summary>Loaded models: one load per key under races, a byte budget with LRU eviction, and leases that pin models in use.</summary>
public sealed class ModelCacheLeaseTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("model-lease-").FullName;
    private readonly FileSystemBlobStore _store;

    public ModelCacheLeaseTests() => _store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Path.Combine(_root, "store") });

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private sealed class FakeModel(string name) : IDisposable
    {
        public string Name { get; } = name;
        public bool Disposed { get; private set; }
        public void Dispose() => Disposed = true;
    }

    private ModelCache NewCache(long budget) => new(_store, Path.Combine(_root, "cache"), budget);

    /// <summary>Publishes models/&lt;name&gt;.pt with its own bytes (the loaded-model key is the file's hash).</summary>
    private async Task<BlobRef> PutAsync(string name)
    {
        await _store.PutBytesAsync($"models/{name}.pt", System.Text.Encoding.UTF8.GetBytes(name));
        return new BlobRef($"models/{name}.pt");
    }

    /// <summary>Every model counts 100 bytes, so budgets read as "how many models".</summary>
    private static Task<Pipeline.Worker.Jobs.Models.ModelLease<FakeModel>> Get(ModelCache cache, BlobRef model, Dictionary<string, int>? loads = null) =>
        cache.GetAsync(model, f =>
        {
            if (loads is not null) lock (loads) loads[model.Path] = loads.GetValueOrDefault(model.Path) + 1;
            return new FakeModel(model.Path);
        }, CancellationToken.None, size: _ => 100);

    [Fact]
    public async Task RacingJobsLoadAModelOnceAndShareIt()
    {
        var ct = TestContext.Current.CancellationToken;
        using var cache = NewCache(1000);
        var a = await PutAsync("a");
        int calls = 0;
        using var entered = new SemaphoreSlim(0);
        using var gate = new ManualResetEventSlim();
        FakeModel Load(ModelCache.LocalModel f)
        {
            Interlocked.Increment(ref calls);
            entered.Release();
            gate.Wait(TimeSpan.FromSeconds(30));
            return new FakeModel("a");
        }
        var first = Task.Run(() => cache.GetAsync(a, Load, ct), ct);
        await entered.WaitAsync(ct); // the first job is inside its load
        var second = Task.Run(() => cache.GetAsync(a, Load, ct), ct);
        // Open the gate only once the second job is waiting on that same load (it holds a lease on the loading entry).
        var sha = (await cache.GetFileAsync(a, ct)).Sha256;
        for (var deadline = DateTime.UtcNow.AddSeconds(30); cache.Loaded.LeasesOf(sha, typeof(FakeModel)) < 2; await Task.Delay(10, ct))
            Assert.True(DateTime.UtcNow < deadline, "the second job never joined the load");
        gate.Set();
        using var l1 = await first;
        using var l2 = await second;

        Assert.Equal(1, calls);
        Assert.Same(l1.Model, l2.Model);
        Assert.Equal(1, cache.LoadedCount);
        Assert.Equal(1, cache.Loads);
    }

    [Fact]
    public async Task OverBudgetEvictsTheLeastRecentlyUsedIdleModelAndDisposesIt()
    {
        using var cache = NewCache(250); // two models fit
        var (a, b, c) = (await PutAsync("a"), await PutAsync("b"), await PutAsync("c"));
        var loads = new Dictionary<string, int>();
        FakeModel ma, mb, mc;
        using (var l = await Get(cache, a, loads)) ma = l.Model;
        using (var l = await Get(cache, b, loads)) mb = l.Model;
        using (var l = await Get(cache, a, loads)) Assert.Same(ma, l.Model); // a is now more recent than b
        using (var l = await Get(cache, c, loads)) mc = l.Model;

        Assert.True(mb.Disposed, "b was the least recently used and should have been evicted");
        Assert.False(ma.Disposed);
        Assert.False(mc.Disposed);
        Assert.Equal((2, 200L), (cache.LoadedCount, cache.LoadedBytes));

        // b comes back as a fresh load, and now a is the least recently used.
        using (var l = await Get(cache, b, loads)) Assert.NotSame(mb, l.Model);
        Assert.Equal(2, loads["models/b.pt"]);
        Assert.Equal(1, loads["models/a.pt"]);
        Assert.Equal(4, cache.Loads); // a, b, c and b again
        Assert.Equal(2, cache.Loaded.LoadsOf((await cache.GetFileAsync(b, CancellationToken.None)).Sha256, typeof(FakeModel)));
        Assert.True(ma.Disposed);
        Assert.False(mc.Disposed);
    }

    [Fact]
    public async Task AModelInUseSurvivesEvictionUntilItsLastLeaseIsReleased()
    {
        using var cache = NewCache(150); // one model fits
        var (a, b) = (await PutAsync("a"), await PutAsync("b"));
        var first = await Get(cache, a);
        var second = await Get(cache, a); // two jobs on a
        using (var l = await Get(cache, b)) Assert.False(l.Model.Disposed);

        Assert.False(first.Model.Disposed);
        Assert.Equal(2, cache.LoadedCount); // over budget while a is in use
        first.Dispose();
        Assert.False(first.Model.Disposed, "one job still uses a");
        second.Dispose();
        Assert.True(first.Model.Disposed);
        Assert.Equal((1, 100L), (cache.LoadedCount, cache.LoadedBytes));
        second.Dispose(); // a second release of one lease changes nothing
        Assert.Equal(1, cache.LoadedCount);
    }

    [Fact]
    public async Task TheMostRecentlyUsedModelStaysEvenAboveTheBudget()
    {
        using var cache = NewCache(50); // smaller than any model
        var (a, b) = (await PutAsync("a"), await PutAsync("b"));
        FakeModel ma, mb;
        using (var l = await Get(cache, a)) ma = l.Model;
        Assert.False(ma.Disposed);
        using (var l = await Get(cache, b)) mb = l.Model;
        Assert.True(ma.Disposed);
        Assert.False(mb.Disposed);
        Assert.Equal(1, cache.LoadedCount);
    }

    [Fact]
    public async Task DisposingTheCacheDisposesIdleModelsNowAndLeasedOnesOnRelease()
    {
        var cache = NewCache(1000);
        var (a, b) = (await PutAsync("a"), await PutAsync("b"));
        FakeModel idle;
        using (var l = await Get(cache, a)) idle = l.Model;
        var leased = await Get(cache, b);
        cache.Dispose();
        Assert.True(idle.Disposed);
        Assert.False(leased.Model.Disposed);
        leased.Dispose();
        Assert.True(leased.Model.Disposed);
    }

    [Fact]
    public async Task AFailedLoadIsNotKeptAndTheNextJobLoadsAgain()
    {
        using var cache = NewCache(1000);
        var a = await PutAsync("a");
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => cache.GetAsync<FakeModel>(a, _ => throw new InvalidDataException("bad weights"), CancellationToken.None));
        Assert.Contains("bad weights", e.Message);
        Assert.Equal((0, 0L), (cache.LoadedCount, cache.Loads));
        using var l = await Get(cache, a);
        Assert.Equal("models/a.pt", l.Model.Name);
        Assert.Equal(1, cache.LoadedCount);
    }

    [Fact]
    public void TheWorkerTakesItsBudgetFromTheSettings()
    {
        var settings = new Pipeline.Worker.Hosting.PipelineSettings
        {
            Device = "cpu", ModelMemoryBudgetMiB = 3, ModelCache = Path.Combine(_root, "cache"), DefaultLocalRoot = Path.Combine(_root, "store"),
        };
        using var host = Pipeline.Worker.Hosting.WorkerHost.CreateBuilder([], settings).Build();
        var cache = (ModelCache)host.Services.GetService(typeof(ModelCache))!;
        Assert.Equal(3L << 20, cache.Loaded.BudgetBytes);
        Assert.Equal(4096, new Pipeline.Worker.Hosting.PipelineSettings().ModelMemoryBudgetMiB);
    }
}
