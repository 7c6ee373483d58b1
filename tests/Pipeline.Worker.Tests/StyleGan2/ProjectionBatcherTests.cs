using Pipeline.Engine.StyleGan2;
using Pipeline.Worker.Jobs.StyleGan2;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>Shared projection batches: a cancelled job takes out only its own row, and out-of-memory errors shrink later batches.</summary>
public sealed class ProjectionBatcherTests : IDisposable
{
    private readonly Generator _g;
    private static readonly ProjectorOptions Options = new() { Steps = 5, MseWeight = 1, NMeanLatent = 256 };

    public ProjectionBatcherTests()
    {
        manual_seed(1);
        _g = new Generator(new GeneratorConfig(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 4 }));
    }

    public void Dispose() => _g.Dispose();

    private static Tensor Target(long seed)
    {
        using var gen = new TorchSharp.torch.Generator((ulong)seed);
        return rand([3, 16, 16], generator: gen) * 2 - 1;
    }

    /// <summary>A job's call: its own target (freed after, as the handler does) and token.</summary>
    private async Task<ProjectionBatcher.Share> ProjectAsync(ProjectionBatcher batcher, long seed, int maxBatch, CancellationToken ct)
    {
        var target = Target(seed);
        try { return await batcher.ProjectAsync(_g, Options, null, target, seed, maxBatch, ct); }
        finally { target.Dispose(); }
    }

    private static void Free(ProjectionBatcher.Share s)
    {
        s.Latent.Dispose();
        s.Image.Dispose();
        foreach (var n in s.Noises) n.Dispose();
    }

    /// <summary>Reports each finished step to <paramref name="onStep"/> before the batcher's own check sees it.</summary>
    private sealed class Steps(Action<ProjectionProgress> onStep, IProgress<ProjectionProgress> inner) : IProgress<ProjectionProgress>
    {
        public void Report(ProjectionProgress value)
        {
            onStep(value);
            inner.Report(value);
        }
    }

    [Fact]
    public async Task ACancelledJobLeavesAndTheRestOfItsBatchCompletesUnchanged()
    {
        var ct = TestContext.Current.CancellationToken;
        // The reference: the same three jobs, nobody cancelled.
        var plain = new ProjectionBatcher { MaxBatch = 3, Window = TimeSpan.FromSeconds(30) };
        var reference = await Task.WhenAll(ProjectAsync(plain, 1, 8, ct), ProjectAsync(plain, 2, 8, ct), ProjectAsync(plain, 3, 8, ct));

        using var cancelSecond = CancellationTokenSource.CreateLinkedTokenSource(ct);
        int stepsRun = 0;
        var batcher = new ProjectionBatcher
        {
            MaxBatch = 3,
            Window = TimeSpan.FromSeconds(30),
            Project = (p, t, init, d, progress, token) => p.Project(t, init, d, new Steps(s =>
            {
                stepsRun++;
                if (s.Step == 1) cancelSecond.Cancel();
            }, progress), token),
        };
        var first = ProjectAsync(batcher, 1, 8, ct);
        var second = ProjectAsync(batcher, 2, 8, cancelSecond.Token);
        var third = ProjectAsync(batcher, 3, 8, ct);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        var (a, c) = (await first, await third);
        Assert.Equal(Options.Steps, stepsRun);
        Assert.Equal(3, a.BatchSize);
        // Rows are independent, so the survivors are exactly what they would have been.
        Assert.True(a.Latent.allclose(reference[0].Latent, rtol: 0, atol: 0));
        Assert.True(c.Latent.allclose(reference[2].Latent, rtol: 0, atol: 0));
        foreach (var s in reference.Append(a).Append(c)) Free(s);
    }

    [Fact]
    public async Task WhenEveryJobIsCancelledTheBatchStops()
    {
        var ct = TestContext.Current.CancellationToken;
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        int stepsRun = 0;
        var batcher = new ProjectionBatcher
        {
            MaxBatch = 2,
            Window = TimeSpan.FromSeconds(30),
            Project = (p, t, init, d, progress, token) => p.Project(t, init, d, new Steps(s =>
            {
                stepsRun++;
                if (s.Step == 1) cancel.Cancel();
            }, progress), token),
        };
        var jobs = new[] { ProjectAsync(batcher, 1, 8, cancel.Token), ProjectAsync(batcher, 2, 8, cancel.Token) };
        foreach (var j in jobs) await Assert.ThrowsAnyAsync<OperationCanceledException>(() => j);
        Assert.Equal(2, stepsRun); // steps 0 and 1, then it stopped
    }

    [Fact]
    public async Task AnOutOfMemoryBatchHalvesTheBatchesThatFollow()
    {
        var ct = TestContext.Current.CancellationToken;
        var sizes = new List<long>();
        var batcher = new ProjectionBatcher
        {
            MaxBatch = 4,
            Window = TimeSpan.FromSeconds(30),
            Project = (p, t, init, d, progress, token) =>
            {
                lock (sizes) sizes.Add(t.shape[0]);
                // What a GPU that fits two images at a time would do.
                if (t.shape[0] > 2) throw new InvalidOperationException("CUDA out of memory. Tried to allocate 2.00 GiB");
                return p.Project(t, init, d, progress, token);
            },
        };
        var jobs = Enumerable.Range(1, 4).Select(i => ProjectAsync(batcher, i, 16, ct)).ToArray();
        foreach (var j in jobs)
            Assert.Contains("out of memory", (await Assert.ThrowsAsync<InvalidOperationException>(() => j)).Message);
        Assert.Equal(new long[] { 4 }, sizes);
        Assert.Equal(2, batcher.LimitFor(_g));

        // The runner retries each job with its batch halved (16 -> 8): the learned limit is what keeps batches at 2.
        var retried = await Task.WhenAll(Enumerable.Range(1, 4).Select(i => ProjectAsync(batcher, i, 8, ct)));
        Assert.All(retried, s => Assert.Equal(2, s.BatchSize));
        Assert.Equal(new long[] { 4, 2, 2 }, sizes);
        foreach (var s in retried) Free(s);
    }

    [Fact]
    public async Task AJobsOwnBatchLimitCapsItsBatch()
    {
        var ct = TestContext.Current.CancellationToken;
        var batcher = new ProjectionBatcher { MaxBatch = 8, Window = TimeSpan.FromSeconds(30) };
        // A job retried after out-of-memory at batch 2 comes back with limit 1: it runs alone at once.
        var alone = await ProjectAsync(batcher, 1, 1, ct);
        Assert.Equal(1, alone.BatchSize);
        Free(alone);
    }
}
