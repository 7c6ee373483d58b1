using Pipeline.Engine;
using Pipeline.Worker.Hosting;
using Pipeline.Engine.StyleGan1;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.StyleGan1;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using Pipeline.Worker.Operations.Imaging;

namespace Pipeline.Worker.Tests.StyleGan1;

/// <summary>A v1 augmentation batch through the job handler, checked against the engine's reference-style forward.</summary>
public sealed class StyleGan1AugmentationHandlerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sg1-aug-").FullName;
    private readonly FileSystemBlobStore _store;
    private readonly ModelCache _models;

    public StyleGan1AugmentationHandlerTests()
    {
        _store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        _models = new ModelCache(_store, Path.Combine(_root, ".cache"));
    }

    public void Dispose()
    {
        _models.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static string FixtureCheckpoint()
    {
        foreach (var dir in Directory.GetDirectories(TestPaths.RequireFixtureDir("stylegan1")).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, "weights.model");
            try { if (File.Exists(path) && StyleGan1Checkpoint.Load(path).GRunning is not null) return path; }
            catch (InvalidDataException) { }
        }
        Requirement.Skip($"No StyleGAN v1 checkpoint with g_running (weights.model) among the fixture cases under {TestPaths.RequireFixtureDir("stylegan1")}");
        return "";
    }

    [Fact]
    public async Task StyleMixingBatchMatchesTwoStyleForward()
    {
        var ct = TestContext.Current.CancellationToken;
        var ckpt = FixtureCheckpoint();
        await _store.PutBytesAsync("models/v1.model", await File.ReadAllBytesAsync(ckpt, ct), cancellationToken: ct);
        var job = new AugmentationBatchJob
        {
            Model = new BlobRef("models/v1.model"), BatchId = "v1-mix", Family = StyleGanFamily.StyleGan1,
            Operation = AugmentationOp.StyleMixing, Count = 3, Seed = 40, Truncation = 1, MixingCrossover = 2, Size = 16,
        };
        var handler = new StyleGan1AugmentationHandler(new EngineDevice("cpu"));
        Assert.True(handler.CanHandle(job));
        Assert.False(handler.CanHandle(job with { Family = StyleGanFamily.StyleGan2 }));
        var context = new JobContext(JobEnvelope.Create(job, "test"), _store, _models, 1, maxBatch: 2);
        var metrics = await handler.RunAsync(context, ct);
        Assert.Equal(3, metrics["images"]);

        var manifest = await _store.GetJsonAsync<DatasetManifest>(BlobLayout.DatasetManifest("v1-mix"), ct);
        Assert.Equal(3, manifest!.Items.Count);
        using var g = StyleGan1Checkpoint.Load(ckpt).CreateGenerator();
        // Read before no_grad: grad mode belongs to the thread (see StyleGan2AugmentationHandlerTests).
        var pngs = new List<byte[]>();
        foreach (var item in manifest.Items) pngs.Add((await _store.GetBytesAsync(item.Path, ct))!.Value.Bytes);
        using var _ = no_grad();
        for (int i = 0; i < 3; i++)
        {
            var item = manifest.Items[i];
            Assert.Equal(40 + i, item.Seed);
            Assert.Equal((43 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), item.Attributes!["mixSeed"]);
            using var gen = new torch.Generator((ulong)(item.Seed + 0x5EED));
            var expected = g.Forward([SeededLatents.Z(item.Seed, g.Config.CodeDim), SeededLatents.Z(item.Seed + 3, g.Config.CodeDim)],
                new StyleGan1ForwardOptions { Step = 2, Noise = g.RandomNoise(1, 2, gen), MixingRange = new MixingRange(2, g.Config.MaxStep) });
            var png = pngs[i];
            using var actual = SKBitmap.Decode(png);
            using var want = SKBitmap.Decode(GeneratorImages.EncodePng(expected));
            Assert.Equal((16, 16), (actual.Width, actual.Height));
            for (int y = 0; y < 16; y++)
                for (int x = 0; x < 16; x++)
                {
                    SKColor a = actual.GetPixel(x, y), b = want.GetPixel(x, y);
                    Assert.True(Math.Abs(a.Red - b.Red) <= 1 && Math.Abs(a.Green - b.Green) <= 1 && Math.Abs(a.Blue - b.Blue) <= 1, $"item {i} pixel ({x},{y}) {a} vs {b}");
                }
        }
    }

    [Fact]
    public async Task SoatOperationsArePermanentFailures()
    {
        var job = new AugmentationBatchJob
        {
            Model = new BlobRef("models/v1.model"), BatchId = "b", Family = StyleGanFamily.StyleGan1, Operation = AugmentationOp.SoatPanorama,
        };
        var context = new JobContext(JobEnvelope.Create(job, "test"), _store, _models, 1, 4);
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => new StyleGan1AugmentationHandler(new EngineDevice("cpu")).RunAsync(context, TestContext.Current.CancellationToken));
        Assert.Contains("StyleGAN2", e.Message, StringComparison.Ordinal);
    }
}
