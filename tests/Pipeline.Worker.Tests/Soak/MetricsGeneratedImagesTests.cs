using Pipeline.Engine.StyleGan2;
using Pipeline.Worker.Operations.Metrics;
using Pipeline.Worker.Jobs.Metrics;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Worker.Tests.Soak;

/// <summary>The metrics job's generated batches: nothing but the batches themselves outlives a batch, and the model lock is taken.</summary>
[Collection(TensorCountCollection.Name)]
public sealed class MetricsGeneratedImagesTests
{
    private static Generator Tiny()
    {
        manual_seed(1);
        return new Generator(new GeneratorConfig(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 4 }));
    }

    [Fact]
    public async Task BatchesFreedByTheConsumerLeaveNoTensorsBehind()
    {
        var ct = TestContext.Current.CancellationToken;
        using var g = Tiny();
        int batches = 0;
        long added = await LiveTensors.AddedAsync(async () =>
        {
            // truncation != 1: the truncation mean is made too, and must go with the enumeration
            await foreach (var batch in GeneratedImages.Stream(g, seed: 3, truncation: 0.7, randomizeNoise: true, count: 10, batch: 4, CPU, ct))
                using (batch)
                {
                    Assert.Equal(new long[] { batches < 2 ? 4 : 2, 3, 16, 16 }, batch.shape);
                    batches++;
                }
        });
        Assert.Equal(3, batches);
        Assert.Equal(0, added);
    }

    [Fact]
    public async Task GeneratingWaitsForTheModelLock()
    {
        var ct = TestContext.Current.CancellationToken;
        using var g = Tiny();
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() => { lock (g) { held.Set(); release.Wait(TimeSpan.FromSeconds(30)); } });
        holder.Start();
        held.Wait(ct);
        var first = Task.Run(async () =>
        {
            await using var e = GeneratedImages.Stream(g, 3, 1, true, 2, 2, CPU, ct).GetAsyncEnumerator(ct);
            Assert.True(await e.MoveNextAsync());
            e.Current.Dispose();
        }, ct);
        await Task.Delay(300, ct);
        Assert.False(first.IsCompleted, "a batch was generated while another job held the model");
        release.Set();
        await first;
        holder.Join();
    }
}
