using Pipeline.Engine;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Cli.StyleGan2;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.StyleGan2;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;
using Pipeline.Worker.Operations.Imaging;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>StyleGAN2 augmentation batches through the worker handler, checked against the engine forward of each seed.</summary>
public sealed class StyleGan2AugmentationHandlerTests : IDisposable
{
    private readonly TinyStyleGan2Store _tiny = new("sg2-aug-");

    public void Dispose() => _tiny.Dispose();

    private Task<(BlobRef Model, Generator G)> PutModelAsync(CancellationToken ct) => _tiny.PutModelAsync(ct);

    private JobContext Context(JobSpec job) => new(JobEnvelope.Create(job, "test"), _tiny.Store, _tiny.Models, 1, maxBatch: 4);

    [Fact]
    public async Task StyleMixingItemsMatchTheEngineForwardOfTheirSeeds()
    {
        var ct = TestContext.Current.CancellationToken;
        var (model, g) = await PutModelAsync(ct);
        var job = new AugmentationBatchJob
        {
            Model = model, BatchId = "mix", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.StyleMixing,
            Count = 2, Seed = 10, MixingCrossover = 3, Truncation = 1,
        };
        var handler = new StyleGan2AugmentationHandler(new EngineDevice("cpu"));
        Assert.True(handler.CanHandle(job));
        Assert.False(handler.CanHandle(job with { Family = StyleGanFamily.StyleGan1 }));
        await handler.RunAsync(Context(job), ct);
        var manifest = await _tiny.Store.GetJsonAsync<DatasetManifest>(BlobLayout.DatasetManifest("mix"), ct);
        Assert.Equal(2, manifest!.Items.Count);
        // Read before no_grad: grad mode belongs to the thread, and a continuation after an await inside the scope
        // would leave the test's first thread with gradients off for whatever test runs on it next.
        var pngs = new List<byte[]>();
        foreach (var item in manifest.Items) pngs.Add((await _tiny.Store.GetBytesAsync(item.Path, ct))!.Value.Bytes);
        using var _ = no_grad();
        for (int i = 0; i < 2; i++)
        {
            var item = manifest.Items[i];
            Assert.Equal(10 + i, item.Seed);
            Assert.Equal("3", item.Attributes!["injectIndex"]);
            var expected = g.Forward([SeededLatents.Z(10 + i, 8), SeededLatents.Z(12 + i, 8)], new GenerateOptions { RandomizeNoise = false, InjectIndex = 3 }).Image;
            using var want = SKBitmap.Decode(GeneratorImages.EncodePng(expected.clamp(-1, 1)));
            using var got = SKBitmap.Decode(pngs[i]);
            Assert.Equal((want.Width, want.Height), (got.Width, got.Height));
            // The two PNG writers may round differently by one level.
            for (int y = 0; y < want.Height; y++)
                for (int x = 0; x < want.Width; x++)
                {
                    var (a, b) = (want.GetPixel(x, y), got.GetPixel(x, y));
                    Assert.True(Math.Abs(a.Red - b.Red) <= 1 && Math.Abs(a.Green - b.Green) <= 1 && Math.Abs(a.Blue - b.Blue) <= 1, $"pixel ({x},{y}) of item {i}: {a} vs {b}");
                }
        }
    }

    [Fact]
    public async Task PanoramaItemsAreLatentsTimesSizeWide()
    {
        var ct = TestContext.Current.CancellationToken;
        var (model, _) = await PutModelAsync(ct);
        var job = new AugmentationBatchJob
        {
            Model = model, BatchId = "pano", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.SoatPanorama,
            Count = 1, PanoramaLatents = 3, Truncation = 0.7, TruncationMeanSamples = 64,
        };
        await new StyleGan2AugmentationHandler(new EngineDevice("cpu")).RunAsync(Context(job), ct);
        using var bmp = SKBitmap.Decode((await _tiny.Store.GetBytesAsync(BlobLayout.DatasetItem("pano", "00000.png"), ct))!.Value.Bytes);
        Assert.Equal((48, 16), (bmp.Width, bmp.Height));
    }
}
