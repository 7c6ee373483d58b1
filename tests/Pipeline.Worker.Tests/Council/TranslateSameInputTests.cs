using System.Text.RegularExpressions;
using Pipeline.Imaging;
using Pipeline.Imaging.Faces;
using Pipeline.Imaging.Synthetic;
using Pipeline.Imaging.Tests;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;
using Pipeline.Worker.Cli.Council;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Council;
using Pipeline.Worker.Operations.Inputs;
using Pipeline.Worker.Operations.Translation;

namespace Pipeline.Worker.Tests.Council;

/// <summary>
/// Same input, same answer (#20): a selfie JPEG stored sideways with an EXIF "rotate 90°" tag goes through a Council
/// translation job and through `pipeline translate`. Both prepare it with SelfieInput (orientation applied, face aligned
/// and cropped), so the model sees the same pixels and writes the same outputs.
/// </summary>
public sealed class TranslateSameInputTests : IDisposable
{
    private const int Exif = 6;
    private readonly string _root = Directory.CreateTempSubdirectory("council-same-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    /// <summary>The upright selfie, and the file a phone would store: pixels turned, EXIF orientation 6.</summary>
    private static (Pipeline.Imaging.RgbImage Upright, Pipeline.Imaging.RgbImage Stored, byte[] Jpeg) SidewaysSelfie()
    {
        var upright = InputImages.Decode(SyntheticFaces.DrawPng(2, FaceStyle.PhotoLike, 256));
        var stored = Orientation.FromUpright(upright, Exif);
        return (upright, stored, Synth.WithExifOrientation(stored.EncodeJpeg(95), Exif));
    }

    [Fact]
    public void SelfiePreparationAppliesTheExifOrientation()
    {
        var (upright, stored, jpeg) = SidewaysSelfie();
        var prepared = SelfieInput.Prepare(jpeg, cropFace: false, new FacePreparation(new PipelineSettings()), InputImages.LocalFiles);
        Assert.Equal((upright.Width, upright.Height), (prepared.Image.Width, prepared.Image.Height));
        Assert.True(Synth.Psnr(upright, prepared.Image) > 30, "the prepared selfie is not the upright image");
        Assert.True(Synth.Psnr(stored, prepared.Image) < 20, "the prepared selfie is still sideways");
    }

    [Fact, Trait("Category", "Parity")]
    public async Task JobAndTranslateCommandSeeTheSameAlignedFaceAndWriteTheSameOutputs()
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("council"), "council_inference");
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "io.safetensors")), $"Council fixture {dir}/io.safetensors is absent");
        Requirement.SkipUnless(File.Exists(HaarCascade.DebianFrontalFaceAlt2), "no Haar cascade (apt install opencv-data): faces cannot be aligned");
        var (_, _, jpeg) = SidewaysSelfie();
        const int outputs = 2;
        const long seed = 2;

        // The job: the council folder and the selfie in a file-system store, CropFace on (the job's default).
        var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Path.Combine(_root, "store") });
        using var models = new ModelCache(store, Path.Combine(_root, ".cache"));
        foreach (var f in Directory.GetFiles(dir, "*.pt").Append(Path.Combine(dir, "config.yaml")))
            await store.PutBytesAsync("models/council/" + Path.GetFileName(f), await File.ReadAllBytesAsync(f));
        await store.PutBytesAsync("uploads/selfie.jpg", jpeg);
        var job = new TranslationJob
        {
            Model = new BlobRef("models/council/"), Input = new BlobRef("uploads/selfie.jpg"), Variant = TranslationVariant.CouncilSelfieToAnime,
            Outputs = outputs, Seed = seed,
        };
        Assert.True(job.CropFace);
        var ctx = new JobContext(JobEnvelope.Create(job, "test"), store, models, 1, 8);
        var features = new Pipeline.Engine.Metrics.FeatureNetworkStore(new Pipeline.Engine.Metrics.FeatureNetworkOptions { CacheDirectory = Path.Combine(_root, "no-weights") });
        await new CouncilTranslationHandler(new EngineDevice("cpu"), new FacePreparation(new PipelineSettings()), features, Pipeline.Engine.Metrics.Records.MetricRegistry.CreateDefault()).RunAsync(ctx, CancellationToken.None);
        async Task<byte[]> Result(string name) => (await store.GetBytesAsync(BlobLayout.Result(ctx.JobId, name)))!.Value.Bytes;

        // The CLI: the same file, default --crop-face, the job's seeds (SeedBase = seed, member drawn from MemberSeed = seed).
        var file = Path.Combine(_root, "selfie.jpg");
        await File.WriteAllBytesAsync(file, jpeg);
        var outDir = Path.Combine(_root, "cli");
        var step = Regex.Match(Path.GetFileName(Directory.GetFiles(dir, "*_gen_*.pt")[0]), @"_(\d{8})\.pt$").Groups[1].Value;
        int rc = new TranslateCommand().Build().Parse([file, "--model", Path.Combine(dir, step), "--outputs", outputs.ToString(),
            "--seed", seed.ToString(), "--member-seed", seed.ToString(), "--device", "cpu", "--out", outDir]).Invoke();
        Assert.Equal(0, rc);
        var folder = Path.Combine(outDir, "0000_selfie");

        // What the model saw (decoded, oriented, aligned, cropped, resized) and how the face was found: identical.
        Assert.Equal(await Result("input.png"), await File.ReadAllBytesAsync(Path.Combine(folder, "input.png")));
        Assert.Equal(await Result("face.json"), await File.ReadAllBytesAsync(Path.Combine(folder, "face.json")));
        for (int k = 0; k < outputs; k++)
            Assert.Equal(await Result($"output-{k}.png"), await File.ReadAllBytesAsync(Path.Combine(folder, $"out_{k:D2}.png")));
    }
}
