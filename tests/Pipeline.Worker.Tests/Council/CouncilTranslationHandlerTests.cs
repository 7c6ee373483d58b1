using System.Text.Json;
using Pipeline.Engine.Council;
using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Kid;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Imaging;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;
using Pipeline.Worker.Cli.Council;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Council;
using Pipeline.Worker.Jobs.Shared;
using static TorchSharp.torch;
using Pipeline.Worker.Operations.Inputs;

namespace Pipeline.Worker.Tests.Council;

/// <summary>The Council translation job (main's handler) on a file-system blob store with the council_inference models.</summary>
public sealed class CouncilTranslationHandlerTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("council-job-").FullName;
    private readonly FileSystemBlobStore _store;
    private readonly ModelCache _models;

    public CouncilTranslationHandlerTests()
    {
        _store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        _models = new ModelCache(_store, Path.Combine(_root, ".cache"));
    }

    public void Dispose()
    {
        _models.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>models/council/ = the whole fixture council, models/one/ = member 0 alone; both with config.yaml.</summary>
    private async Task<string> UploadFixtureAsync()
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("council"), "council_inference");
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "io.safetensors")), $"Council fixture {dir}/io.safetensors is absent");
        foreach (var f in Directory.GetFiles(dir, "*.pt").Append(Path.Combine(dir, "config.yaml")))
        {
            var bytes = await File.ReadAllBytesAsync(f);
            await _store.PutBytesAsync("models/council/" + Path.GetFileName(f), bytes);
            if (!Path.GetFileName(f).StartsWith("b2a_gen_", StringComparison.Ordinal) || Path.GetFileName(f).StartsWith("b2a_gen_0_", StringComparison.Ordinal))
                await _store.PutBytesAsync("models/one/" + Path.GetFileName(f), bytes);
        }
        // The worker rejects uploads under 64 px, so the fixture image goes up ×3 (nearest neighbour).
        await _store.PutBytesAsync("uploads/selfie.png", CouncilImageIO.EncodePng(Selfie(dir)));
        return dir;
    }

    private static RgbImage Selfie(string dir)
    {
        var small = CouncilImageIO.Decode(Directory.GetFiles(dir, "*.png").Order(StringComparer.Ordinal).First());
        const int f = 3;
        var px = new byte[small.Width * f * small.Height * f * 3];
        for (int y = 0; y < small.Height * f; y++)
            for (int x = 0; x < small.Width * f; x++)
                Array.Copy(small.Pixels, ((y / f) * small.Width + x / f) * 3, px, (y * small.Width * f + x) * 3, 3);
        return new RgbImage(small.Width * f, small.Height * f, px);
    }

    private async Task<(IReadOnlyDictionary<string, double> Metrics, JobContext Context)> RunAsync(string model, int outputs, long seed,
        BlobRef? referenceFeatures = null, FeatureNetworkStore? features = null)
    {
        var env = JobEnvelope.Create(new TranslationJob
        {
            Model = new BlobRef(model),
            Input = new BlobRef("uploads/selfie.png"),
            Variant = TranslationVariant.CouncilSelfieToAnime,
            Outputs = outputs,
            Seed = seed,
            CropFace = false, // the fixture images are tiny noise, not faces
            ReferenceFeatures = referenceFeatures,
        }, "test");
        var ctx = new JobContext(env, _store, _models, 1, 8);
        features ??= new FeatureNetworkStore(new FeatureNetworkOptions { CacheDirectory = Path.Combine(_root, "no-weights") });
        var handler = new CouncilTranslationHandler(new EngineDevice("cpu"), new FacePreparation(new PipelineSettings()), features, MetricRegistry.CreateDefault());
        Assert.True(handler.CanHandle(env.Job));
        return (await handler.RunAsync(ctx, CancellationToken.None), ctx);
    }

    private async Task<RgbImage> OutputAsync(JobContext ctx, int i)
    {
        var blob = await _store.GetBytesAsync(BlobLayout.Result(ctx.JobId, $"output-{i}.png"));
        Assert.True(blob is not null, $"output-{i}.png was not written");
        return CouncilImageIO.Decode(blob.Value.Bytes, $"output-{i}.png");
    }

    [Fact]
    public async Task CouncilJobRecordsMemberAndSeedThatReplayTheOutputs()
    {
        var dir = await UploadFixtureAsync();
        var (metrics, ctx) = await RunAsync("models/council", 3, 41);
        var doc = await _store.GetBytesAsync(BlobLayout.Result(ctx.JobId, "translation.json"));
        var rec = JsonDocument.Parse(doc!.Value.Bytes).RootElement.GetProperty("record");
        int member = rec.GetProperty("Member").GetInt32();
        Assert.Equal(metrics["member"], member);
        Assert.Equal(41, rec.GetProperty("ZSeed").GetInt64());

        using var council = CouncilTranslator.Load(Path.Combine(dir, "00001000"));
        using var replay = council.Translate(Selfie(dir), 0,
            new TranslateOptions { NumStyles = 3, SeedBase = 41, Member = member });
        var images = replay.Images();
        for (int j = 0; j < 3; j++) Assert.Equal(images[j].Pixels, (await OutputAsync(ctx, j)).Pixels);
    }

    [Fact]
    public async Task UndecodableUploadIsPermanent()
    {
        await UploadFixtureAsync();
        await _store.PutBytesAsync("uploads/selfie.png", new byte[] { 1, 2, 3, 4 });
        // The shared input preparation rejects it; the job runner dead-letters that at once (JobRunnerTests).
        var e = await Assert.ThrowsAsync<Operations.UnusableInputException>(() => RunAsync("models/one", 2, 0));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    private static async IAsyncEnumerable<Tensor> Batches(Tensor images, int batch)
    {
        for (long i = 0; i < images.shape[0]; i += batch)
        {
            await Task.Yield();
            yield return images[TensorIndex.Slice(i, Math.Min(i + batch, images.shape[0]))].clone();
        }
    }

    [Fact]
    public async Task WithReferenceFeaturesTheJobRecordsKidOfItsOutputs()
    {
        var ct = TestContext.Current.CancellationToken;
        await UploadFixtureAsync();
        // No dispose scope here: it would span the awaits (scopes are per thread, and another test continuing on this
        // thread would have its tensors freed with ours). The tensors that matter are disposed one by one.
        manual_seed(8);
        // Initialised Inception weights exercise the path (configured file, digest check off: not the official file).
        using var inception = new FidInceptionV3();
        var weights = Path.Combine(_root, "inception.safetensors");
        SafeTensors.Save(weights, inception.state_dict(), null);
        var store = new FeatureNetworkStore(new FeatureNetworkOptions
        {
            CacheDirectory = _root, Verify = false, Files = new Dictionary<string, string> { ["inception"] = weights },
        });
        var extractor = new FidFeatureExtractor(inception, CPU);
        using var real = rand([5, 3, 32, 32]);
        var (refStats, refFeats) = await extractor.StatsAndFeaturesAsync(Batches(real, 2), ct: ct);
        using var _ = refFeats;
        var refPath = Path.Combine(_root, "anime-features.npz");
        FidStatsFile.Save(refPath, refStats, features: refFeats);
        await _store.PutBytesAsync("datasets/anime/features.npz", await File.ReadAllBytesAsync(refPath, ct), cancellationToken: ct);

        var (metrics, ctx) = await RunAsync("models/council", 3, 41, new BlobRef("datasets/anime/features.npz"), store);

        // What the job wrote, measured independently: the three output PNGs through the same extractor and estimator.
        var outputs = new List<Tensor>();
        for (int k = 0; k < 3; k++)
        {
            var im = await OutputAsync(ctx, k);
            outputs.Add(tensor(im.Pixels.Select(b => b / 255f).ToArray(), [im.Height, im.Width, 3]).permute(2, 0, 1));
        }
        using var written = stack(outputs.ToArray());
        foreach (var o in outputs) o.Dispose();
        using var feats = await extractor.FeaturesAsync(Batches(written, 8), ct: ct);
        double expected = KernelInceptionDistance.Compute(feats, refFeats, new KidOptions()).Value;
        Assert.Equal(expected, metrics[MetricRegistry.KidTranslation], 12);
        var lines = Directory.GetFiles(Path.Combine(_root, "metrics", MetricRegistry.KidTranslation), "*.jsonl", SearchOption.AllDirectories);
        var record = Pipeline.Metrics.MetricRecord.FromJsonLine(File.ReadAllLines(Assert.Single(lines)).Single());
        Assert.Equal(("ok", 3L, "datasets/anime/features.npz"), (record.Status, record.Images, record.Dataset));
        Assert.Null(ctx.Note);
    }

    [Fact]
    public async Task WithoutInceptionWeightsTheKidIsASkippedRecordAndTheJobSaysSo()
    {
        await UploadFixtureAsync();
        await _store.PutBytesAsync("datasets/anime/features.npz", new byte[] { 1, 2, 3 }, cancellationToken: TestContext.Current.CancellationToken);
        var (metrics, ctx) = await RunAsync("models/council", 2, 3, new BlobRef("datasets/anime/features.npz"));
        Assert.False(metrics.ContainsKey(MetricRegistry.KidTranslation));
        Assert.StartsWith($"{MetricRegistry.KidTranslation} skipped:", ctx.Note, StringComparison.Ordinal);
        // The translation itself is done and kept: only the measurement is missing.
        Assert.NotNull(await _store.GetBytesAsync(BlobLayout.Result(ctx.JobId, "output-1.png"), TestContext.Current.CancellationToken));

        var e = await Assert.ThrowsAsync<PermanentJobException>(() => RunAsync("models/council", 1, 3, new BlobRef("datasets/anime/features.npz")));
        Assert.Contains("at least 2 outputs", e.Message, StringComparison.Ordinal);
    }
}
