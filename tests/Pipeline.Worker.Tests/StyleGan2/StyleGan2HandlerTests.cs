using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Cli.StyleGan2;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.StyleGan2;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>StyleGAN2 augmentation and projection jobs through their handlers on tiny checkpoints in a file-system store.</summary>
public sealed class StyleGan2HandlerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sg2-jobs-").FullName;
    private readonly FileSystemBlobStore _store;
    private readonly ModelCache _models;
    private static readonly GeneratorConfig Tiny = new(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 4 });

    public StyleGan2HandlerTests()
    {
        _store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        _models = new ModelCache(_store, Path.Combine(_root, ".cache"));
    }

    public void Dispose()
    {
        _models.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<(BlobRef Ref, Generator G)> PutModelAsync(string name, int seed, CancellationToken ct)
    {
        manual_seed(seed);
        var g = new Generator(Tiny);
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in g.state_dict()) sd[k] = v;
        var file = Path.Combine(_root, name);
        TorchFile.Save(file, new OrderedDictionary<string, object?> { ["g_ema"] = sd });
        await _store.PutBytesAsync($"models/{name}", await File.ReadAllBytesAsync(file, ct), cancellationToken: ct);
        return (new BlobRef($"models/{name}"), g);
    }

    private JobContext Context(JobSpec job) => new(JobEnvelope.Create(job, "test"), _store, _models, 1, maxBatch: 4);

    [Fact]
    public async Task StyleMixingItemsEqualTheEngineForwardOfTheirSeeds()
    {
        var ct = TestContext.Current.CancellationToken;
        var (model, g) = await PutModelAsync("a.pt", 1, ct);
        var job = new AugmentationBatchJob
        {
            Model = model, BatchId = "mix", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.StyleMixing,
            Count = 2, Seed = 10, MixingCrossover = 3,
        };
        var handler = new StyleGan2AugmentationHandler();
        Assert.True(handler.CanHandle(job));
        Assert.False(handler.CanHandle(job with { Family = StyleGanFamily.StyleGan1 }));
        var metrics = await handler.RunAsync(Context(job), ct);
        Assert.Equal(2, metrics["images"]);
        var manifest = await _store.GetJsonAsync<DatasetManifest>(BlobLayout.DatasetManifest("mix"), ct);
        Assert.Equal(2, manifest!.Items.Count);
        using var _ = no_grad();
        for (int i = 0; i < 2; i++)
        {
            var item = manifest.Items[i];
            Assert.Equal(10 + i, item.Seed);
            Assert.Equal("3", item.Attributes!["injectIndex"]);
            var expected = g.Forward([Sg2Cli.SeedZ(10 + i, 8), Sg2Cli.SeedZ(12 + i, 8)], new GenerateOptions { RandomizeNoise = false, InjectIndex = 3 }).Image;
            var png = (await _store.GetBytesAsync(item.Path, ct))!.Value.Bytes;
            Assert.Equal(Sg2Images.EncodePng(expected.clamp(-1, 1)), png);
        }
    }

    [Fact]
    public async Task PanoramaAndTwoModelBlendHaveTheirShapes()
    {
        var ct = TestContext.Current.CancellationToken;
        var (a, _) = await PutModelAsync("a.pt", 1, ct);
        var (b, _) = await PutModelAsync("b.pt", 2, ct);
        var handler = new StyleGan2AugmentationHandler();
        var pano = new AugmentationBatchJob
        {
            Model = a, BatchId = "pano", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.SoatPanorama,
            Count = 1, PanoramaLatents = 3, Truncation = 0.7, TruncationMeanSamples = 64,
        };
        await handler.RunAsync(Context(pano), ct);
        using (var bmp = SKBitmap.Decode((await _store.GetBytesAsync(BlobLayout.DatasetItem("pano", "00000.png"), ct))!.Value.Bytes))
            Assert.Equal((48, 16), (bmp.Width, bmp.Height));
        var blend = pano with { BatchId = "blend", Operation = AugmentationOp.SoatBlend, SecondModel = b };
        await handler.RunAsync(Context(blend), ct);
        using (var bmp = SKBitmap.Decode((await _store.GetBytesAsync(BlobLayout.DatasetItem("blend", "00000.png"), ct))!.Value.Bytes))
            Assert.Equal((16, 16), (bmp.Width, bmp.Height));
        await Assert.ThrowsAsync<PermanentJobException>(() => handler.RunAsync(Context(blend with { SecondModel = null }), ct));
    }

    [Fact]
    public async Task ProjectionWritesLatentCheckpointImageAndLog()
    {
        var ct = TestContext.Current.CancellationToken;
        var (model, g) = await PutModelAsync("a.pt", 1, ct);
        Tensor img;
        using (no_grad()) img = g.Forward([randn(1, 8)], new GenerateOptions { RandomizeNoise = false }).Image;
        await _store.PutBytesAsync("uploads/face.png", Sg2Images.EncodePng(img.clamp(-1, 1)), cancellationToken: ct);
        var job = new ProjectionJob { Model = model, Input = new BlobRef("uploads/face.png"), Steps = 3, Mse = 1, WPlus = true, Seed = 4 };
        var handler = new StyleGan2ProjectionHandler();
        var context = Context(job);
        var metrics = await handler.RunAsync(context, ct);
        Assert.Equal(3, metrics["steps"]);
        var names = context.Outputs.Select(o => Path.GetFileName(o.Path)).Order().ToArray();
        Assert.Equal(["latent.npy", "loss.csv", "loss.png", "projected.png", "projection.pt"], names);
        var npy = Path.Combine(_root, "latent.npy");
        await File.WriteAllBytesAsync(npy, (await _store.GetBytesAsync(BlobLayout.Result(context.JobId, "latent.npy"), ct))!.Value.Bytes, ct);
        Assert.Equal([6L, 8], Npy.Load(npy).shape);
        if (metrics["lpips_used"] == 0)
            await Assert.ThrowsAsync<PermanentJobException>(() => handler.RunAsync(Context(job with { Mse = 0 }), ct));
    }
}
