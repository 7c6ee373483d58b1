using System.Text.Json;
using Pipeline.Engine.Council;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;
using Pipeline.Worker.Cli.Council;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Council;
using Pipeline.Worker.Jobs.Shared;
using static TorchSharp.torch;

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

    private async Task<(IReadOnlyDictionary<string, double> Metrics, JobContext Context)> RunAsync(string model, int outputs, long seed)
    {
        var env = JobEnvelope.Create(new TranslationJob
        {
            Model = new BlobRef(model),
            Input = new BlobRef("uploads/selfie.png"),
            Variant = TranslationVariant.CouncilSelfieToAnime,
            Outputs = outputs,
            Seed = seed,
            CropFace = false, // the fixture images are tiny noise, not faces
        }, "test");
        var ctx = new JobContext(env, _store, _models, 1, 8);
        var handler = new CouncilTranslationHandler(new EngineDevice("cpu"), new FacePreparation(new PipelineSettings()));
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
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => RunAsync("models/one", 2, 0));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }
}
