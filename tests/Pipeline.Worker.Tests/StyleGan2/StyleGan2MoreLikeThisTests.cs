using Pipeline.Engine;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Cli.StyleGan2;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.StyleGan2;
using Pipeline.Worker.Tests.Jobs;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;
using Pipeline.Worker.Operations.Imaging;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>"More like this" (BaseSeed/Variation) and thumbnails of StyleGAN2 batches, against plain batches and the engine forward.</summary>
public sealed class StyleGan2MoreLikeThisTests : IDisposable
{
    private readonly TinyStyleGan2Store _tiny = new("sg2-mlt-");
    private readonly StyleGan2AugmentationHandler _handler = new(new EngineDevice("cpu"));

    public void Dispose() => _tiny.Dispose();

    private async Task<(AugmentationBatchJob Job, Generator G)> PutModelAsync(CancellationToken ct)
    {
        var (model, g) = await _tiny.PutModelAsync(ct);
        var job = new AugmentationBatchJob
        {
            Model = model, BatchId = "plain", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Sample,
            Count = 3, Seed = 20, Truncation = 1,
        };
        return (job, g);
    }

    private Task<DatasetBatches.Batch> RunAsync(AugmentationBatchJob job, CancellationToken ct) => DatasetBatches.RunAsync(_handler, _tiny.Store, _tiny.Models, job, ct);

    [Fact]
    public async Task BaseSeedWithoutVariationRepeatsThePlainImageOfTheBaseSeed()
    {
        var ct = TestContext.Current.CancellationToken;
        var (plainJob, _) = await PutModelAsync(ct);
        var plain = await RunAsync(plainJob, ct);
        var like = await RunAsync(plainJob with { BatchId = "like", Seed = 100, BaseSeed = 21 }, ct);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(plain.Pngs[1], like.Pngs[i]);
            Assert.Equal(100 + i, like.Manifest.Items[i].Seed);
            Assert.Equal("21", like.Manifest.Items[i].Attributes!["baseSeed"]);
            Assert.False(like.Manifest.Items[i].Attributes!.ContainsKey("variation"));
        }
        Assert.False(plain.Manifest.Items[0].Attributes!.ContainsKey("baseSeed"));
        await DatasetBatches.AssertThumbnailsAsync(_tiny.Store, plain, ct);
        await DatasetBatches.AssertThumbnailsAsync(_tiny.Store, like, ct);
    }

    [Fact]
    public async Task VariationMovesFromTheBaseImageTowardTheImageOfTheOwnSeed()
    {
        var ct = TestContext.Current.CancellationToken;
        var (plainJob, _) = await PutModelAsync(ct);
        var plain = await RunAsync(plainJob, ct);
        var baseline = await RunAsync(plainJob with { BatchId = "base", BaseSeed = 50 }, ct);
        var full = await RunAsync(plainJob with { BatchId = "full", BaseSeed = 50, Variation = 1 }, ct);
        var near = await RunAsync(plainJob with { BatchId = "near", BaseSeed = 50, Variation = 0.1 }, ct);
        for (int i = 0; i < 3; i++)
        {
            // v = 1: sqrt(1 - v²) = 0, so the latent is exactly z(Seed + i).
            Assert.Equal(plain.Pngs[i], full.Pngs[i]);
            Assert.Equal("1", full.Manifest.Items[i].Attributes!["variation"]);
            double nearToBase = DatasetBatches.MeanAbsDiff(near.Pngs[i], baseline.Pngs[i]);
            double ownToBase = DatasetBatches.MeanAbsDiff(plain.Pngs[i], baseline.Pngs[i]);
            Assert.True(nearToBase > 0, $"image {i} with variation 0.1 is the base image");
            Assert.True(nearToBase < 0.5 * ownToBase, $"image {i}: variation 0.1 is {nearToBase:F2} levels from the base, an unrelated seed {ownToBase:F2}");
            Assert.Equal("0.1", near.Manifest.Items[i].Attributes!["variation"]);
        }
        Assert.NotEqual(near.Pngs[0], near.Pngs[1]);
    }

    [Fact]
    public async Task StyleMixingWithBaseSeedSharesTheBaseLatentAndVariesThePartner()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sample, g) = await PutModelAsync(ct);
        var mixJob = sample with { BatchId = "mix", Operation = AugmentationOp.StyleMixing, Seed = 30, MixingCrossover = 3 };
        var plain = await RunAsync(mixJob, ct);
        var like = await RunAsync(mixJob with { BatchId = "mix-like", BaseSeed = 31 }, ct);
        // Image 1 of both batches is (z(31), partner z(34)): the same image.
        Assert.Equal(plain.Pngs[1], like.Pngs[1]);
        Assert.NotEqual(like.Pngs[0], like.Pngs[1]);
        Assert.NotEqual(like.Pngs[1], like.Pngs[2]);
        Assert.NotEqual(like.Pngs[0], like.Pngs[2]);
        using var _ = no_grad();
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal((33 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), like.Manifest.Items[i].Attributes!["mixSeed"]);
            var expected = g.Forward([SeededLatents.Z(31, 8), SeededLatents.Z(33 + i, 8)], new GenerateOptions { RandomizeNoise = false, InjectIndex = 3 }).Image;
            // Batched vs single forward may differ in the last float bit, hence one level.
            var (want, _, _) = DatasetBatches.Pixels(GeneratorImages.EncodePng(expected));
            var (got, _, _) = DatasetBatches.Pixels(like.Pngs[i]);
            Assert.True(want.Zip(got).All(p => Math.Abs(p.First - p.Second) <= 1), $"image {i} is not (z(31), z({33 + i})) mixed at 3");
        }
    }

    [Fact]
    public async Task PanoramaThumbnailsKeepTheirAspect()
    {
        var ct = TestContext.Current.CancellationToken;
        var (sample, _) = await PutModelAsync(ct);
        var pano = await RunAsync(sample with { BatchId = "pano", Operation = AugmentationOp.SoatPanorama, Count = 2, PanoramaLatents = 3, Truncation = 0.7, TruncationMeanSamples = 64 }, ct);
        await DatasetBatches.AssertThumbnailsAsync(_tiny.Store, pano, ct);
        var (_, w, h) = DatasetBatches.Pixels((await _tiny.Store.GetBytesAsync(pano.Manifest.Items[0].Thumbnail!, ct))!.Value.Bytes);
        Assert.Equal((48, 16), (w, h));
    }
}
