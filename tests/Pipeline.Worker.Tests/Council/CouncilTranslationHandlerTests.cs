using System.Text.Json;
using Pipeline.Engine.Council;
using Pipeline.Engine.IO;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;
using Pipeline.Worker.Cli.Council;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Council;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.Council;

/// <summary>The Council translation job on a file-system blob store with the council_inference fixture's models.</summary>
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

    private async Task<string> UploadFixtureAsync()
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("council"), "council_inference");
        if (!File.Exists(Path.Combine(dir, "io.safetensors"))) Assert.Skip($"{dir} is absent");
        foreach (var f in Directory.GetFiles(dir, "*.pt").Append(Path.Combine(dir, "config.yaml")))
            await _store.PutBytesAsync("models/council/" + Path.GetFileName(f), await File.ReadAllBytesAsync(f));
        await _store.PutBytesAsync("uploads/selfie.png", await File.ReadAllBytesAsync(Directory.GetFiles(dir, "*.png").Order(StringComparer.Ordinal).First()));
        return dir;
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
        }, "test");
        var ctx = new JobContext(env, _store, _models, 1, 8);
        using var handler = new CouncilTranslationHandler(new EngineDevice("cpu"));
        Assert.True(handler.CanHandle(env.Job));
        return (await handler.RunAsync(ctx, CancellationToken.None), ctx);
    }

    private async Task<RgbImage> OutputAsync(JobContext ctx, int i)
    {
        var blob = await _store.GetBytesAsync(BlobLayout.Result(ctx.JobId, $"output-{i}.png"));
        Assert.True(blob is not null, $"output-{i}.png was not written");
        return CouncilImageIO.Decode(blob.Value.Bytes, $"output-{i}.png");
    }

    [Fact, Trait("Category", "Parity")]
    public async Task OneMemberJobWritesTheReferenceBytes()
    {
        var dir = await UploadFixtureAsync();
        var io = SafeTensors.Load(Path.Combine(dir, "io.safetensors"));
        Assert.Equal(0, io["img0.member"].item<long>()); // member 0 is the only member of a one-file council
        var expected = io["img0.out_u8"];
        int k = (int)expected.shape[0];
        // Seed 2 for image 0 is the reference folder test's manual_seed(0 + 2).
        var (metrics, ctx) = await RunAsync("models/council/b2a_gen_0_00001000.pt", k, 2);
        Assert.Equal(1, metrics["council_size"]);
        Assert.Equal(0, metrics["council_member"]);
        for (int j = 0; j < k; j++)
        {
            var img = await OutputAsync(ctx, j);
            using var got = tensor(img.Pixels, [img.Height, img.Width, 3], ScalarType.Byte).to(ScalarType.Int32);
            using var diff = (got - expected[j].to(ScalarType.Int32)).abs().max();
            Assert.True(diff.item<int>() <= 1, $"output-{j}.png differs from the reference by {diff.item<int>()}");
        }
        foreach (var t in io.Values) t.Dispose();
    }

    [Fact, Trait("Category", "Parity")]
    public async Task CouncilJobRecordsMemberAndSeedThatReplayTheOutputs()
    {
        var dir = await UploadFixtureAsync();
        var (metrics, ctx) = await RunAsync("models/council/00001000", 3, 41);
        Assert.Equal(4, metrics["council_size"]);
        var doc = await _store.GetBytesAsync(BlobLayout.Result(ctx.JobId, "translation.json"));
        var rec = JsonDocument.Parse(doc!.Value.Bytes).RootElement.GetProperty("record");
        int member = rec.GetProperty("Member").GetInt32();
        Assert.Equal(metrics["council_member"], member);
        Assert.Equal(41, rec.GetProperty("ZSeed").GetInt64());

        using var council = CouncilTranslator.Load(Path.Combine(dir, "00001000"));
        using var replay = council.Translate(CouncilImageIO.Decode(Directory.GetFiles(dir, "*.png").Order(StringComparer.Ordinal).First()), 0,
            new TranslateOptions { NumStyles = 3, SeedBase = 41, Member = member });
        var images = replay.Images();
        for (int j = 0; j < 3; j++) Assert.Equal(images[j].Pixels, (await OutputAsync(ctx, j)).Pixels);
    }

    [Fact]
    public async Task UndecodableUploadIsPermanent()
    {
        await UploadFixtureAsync();
        await _store.PutBytesAsync("uploads/selfie.png", new byte[] { 1, 2, 3, 4 });
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => RunAsync("models/council/b2a_gen_0_00001000.pt", 2, 0));
        Assert.Contains("cannot be decoded", e.Message);
    }
}
