using Pipeline.Engine;
using Pipeline.Worker.Hosting;
using Pipeline.Engine.StyleGan1;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;
using Pipeline.Worker.Cli.StyleGan2;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.StyleGan1;
using Pipeline.Worker.Tests.Jobs;
using TorchSharp;
using static TorchSharp.torch;
using Pipeline.Worker.Operations.Imaging;

namespace Pipeline.Worker.Tests.StyleGan1;

/// <summary>
/// "More like this" (BaseSeed/Variation) and thumbnails of StyleGAN v1 batches. v1 noise stays seeded by the image's
/// own seed (Seed + i), so an image equals a plain batch's image bit for bit where the seeds of latent and noise agree,
/// and otherwise the engine forward of (its latent, its noise).
/// </summary>
public sealed class StyleGan1MoreLikeThisTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sg1-mlt-").FullName;
    private readonly FileSystemBlobStore _store;
    private readonly ModelCache _models;
    private readonly StyleGan1AugmentationHandler _handler = new(new EngineDevice("cpu"));

    public StyleGan1MoreLikeThisTests()
    {
        _store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        _models = new ModelCache(_store, Path.Combine(_root, ".cache"));
    }

    public void Dispose()
    {
        _models.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private async Task<(AugmentationBatchJob Job, string Checkpoint)> PutModelAsync(CancellationToken ct)
    {
        string? ckpt = null;
        foreach (var dir in Directory.GetDirectories(TestPaths.RequireFixtureDir("stylegan1")).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, "weights.model");
            try { if (File.Exists(path) && StyleGan1Checkpoint.Load(path).GRunning is not null) { ckpt = path; break; } }
            catch (InvalidDataException) { }
        }
        if (ckpt is null) Requirement.Skip($"No StyleGAN v1 checkpoint with g_running (weights.model) among the fixture cases under {TestPaths.RequireFixtureDir("stylegan1")}");
        await _store.PutBytesAsync("models/v1.model", await File.ReadAllBytesAsync(ckpt, ct), cancellationToken: ct);
        var job = new AugmentationBatchJob
        {
            Model = new BlobRef("models/v1.model"), BatchId = "plain", Family = StyleGanFamily.StyleGan1, Operation = AugmentationOp.Sample,
            Count = 3, Seed = 40, Truncation = 1, Size = 16,
        };
        return (job, ckpt);
    }

    private Task<DatasetBatches.Batch> RunAsync(AugmentationBatchJob job, CancellationToken ct) => DatasetBatches.RunAsync(_handler, _store, _models, job, ct);

    /// <summary>The engine's own forward of one image: latent z(latentSeed) (optionally mixed) and noise seeded by the image seed.</summary>
    private static byte[] Expected(StyledGenerator g, long latentSeed, long imageSeed, long? mixSeed = null, int crossover = 0)
    {
        using var _ = no_grad();
        using var gen = new torch.Generator((ulong)(imageSeed + 0x5EED));
        var z = SeededLatents.Z(latentSeed, g.Config.CodeDim);
        var options = new StyleGan1ForwardOptions { Step = 2, Noise = g.RandomNoise(1, 2, gen) };
        var image = mixSeed is { } m
            ? g.Forward([z, SeededLatents.Z(m, g.Config.CodeDim)], options with { MixingRange = new MixingRange(crossover, g.Config.MaxStep) })
            : g.Forward([z], options);
        return GeneratorImages.EncodePng(image);
    }

    private static void AssertClose(byte[] want, byte[] got, string what)
    {
        var (a, _, _) = DatasetBatches.Pixels(want);
        var (b, _, _) = DatasetBatches.Pixels(got);
        Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1), what);
    }

    [Fact]
    public async Task BaseSeedWithoutVariationUsesTheBaseLatentWithEachImagesNoise()
    {
        var ct = TestContext.Current.CancellationToken;
        var (plainJob, ckpt) = await PutModelAsync(ct);
        var plain = await RunAsync(plainJob, ct);
        var like = await RunAsync(plainJob with { BatchId = "like", BaseSeed = 41 }, ct);
        // Image 1 has seed 41 for both latent and noise: the plain image of seed 41, bit for bit.
        Assert.Equal(plain.Pngs[1], like.Pngs[1]);
        Assert.NotEqual(plain.Pngs[0], like.Pngs[0]);
        using var g = StyleGan1Checkpoint.Load(ckpt).CreateGenerator();
        for (int i = 0; i < 3; i++)
        {
            AssertClose(Expected(g, 41, 40 + i), like.Pngs[i], $"image {i} is not z(41) with the noise of seed {40 + i}");
            Assert.Equal("41", like.Manifest.Items[i].Attributes!["baseSeed"]);
            Assert.Equal(40 + i, like.Manifest.Items[i].Seed);
        }
        await DatasetBatches.AssertThumbnailsAsync(_store, plain, ct);
        await DatasetBatches.AssertThumbnailsAsync(_store, like, ct);
    }

    [Fact]
    public async Task VariationMovesFromTheBaseImageTowardTheImageOfTheOwnSeed()
    {
        var ct = TestContext.Current.CancellationToken;
        var (plainJob, _) = await PutModelAsync(ct);
        var plain = await RunAsync(plainJob, ct);
        var baseline = await RunAsync(plainJob with { BatchId = "base", BaseSeed = 77 }, ct);
        var full = await RunAsync(plainJob with { BatchId = "full", BaseSeed = 77, Variation = 1 }, ct);
        var near = await RunAsync(plainJob with { BatchId = "near", BaseSeed = 77, Variation = 0.1 }, ct);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(plain.Pngs[i], full.Pngs[i]);
            // Same noise seed as the baseline image i, so only the latent differs.
            double nearToBase = DatasetBatches.MeanAbsDiff(near.Pngs[i], baseline.Pngs[i]);
            double ownToBase = DatasetBatches.MeanAbsDiff(plain.Pngs[i], baseline.Pngs[i]);
            Assert.True(nearToBase > 0, $"image {i} with variation 0.1 is the base image");
            Assert.True(nearToBase < 0.5 * ownToBase, $"image {i}: variation 0.1 is {nearToBase:F2} levels from the base, an unrelated seed {ownToBase:F2}");
            Assert.Equal("0.1", near.Manifest.Items[i].Attributes!["variation"]);
        }
    }

    [Fact]
    public async Task StyleMixingWithBaseSeedSharesTheBaseLatentAndVariesThePartner()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sample, ckpt) = await PutModelAsync(ct);
        var mixJob = sample with { BatchId = "mix", Operation = AugmentationOp.StyleMixing, MixingCrossover = 2 };
        var plain = await RunAsync(mixJob, ct);
        var like = await RunAsync(mixJob with { BatchId = "mix-like", BaseSeed = 41 }, ct);
        Assert.Equal(plain.Pngs[1], like.Pngs[1]);
        Assert.NotEqual(like.Pngs[0], like.Pngs[1]);
        Assert.NotEqual(like.Pngs[1], like.Pngs[2]);
        using var g = StyleGan1Checkpoint.Load(ckpt).CreateGenerator();
        for (int i = 0; i < 3; i++)
            AssertClose(Expected(g, 41, 40 + i, 43 + i, 2), like.Pngs[i], $"image {i} is not z(41) mixed with z({43 + i}) from level 2");
    }
}
