using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Worker.Cli.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>The StyleGAN2 commands end to end on a tiny checkpoint written in the convert_weight.py layout.</summary>
public sealed class StyleGan2CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sg2cli-").FullName;
    private readonly string _ckpt;

    public StyleGan2CliTests()
    {
        manual_seed(3);
        var g = new Generator(new GeneratorConfig(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 4 }));
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in g.state_dict()) sd[k] = v;
        _ckpt = Path.Combine(_dir, "tiny.pt");
        TorchFile.Save(_ckpt, new OrderedDictionary<string, object?> { ["g_ema"] = sd, ["latent_avg"] = zeros(8) });
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Invoke(System.CommandLine.Command cmd, params string[] args) => cmd.Parse(args).Invoke();

    [Fact]
    public void GenerateWritesOnePngPerSeedAndAContactSheet()
    {
        var outDir = Path.Combine(_dir, "gen");
        Assert.Equal(0, Invoke(new GenerateCommand().Build(), "--ckpt", _ckpt, "--seeds", "3,5-6", "-t", "0.7", "--batch", "1", "--out", outDir, "--device", "cpu"));
        Assert.Equal(["contact_sheet.png", "seed0003.png", "seed0005.png", "seed0006.png"], Directory.GetFiles(outDir).Select(Path.GetFileName).Order().ToArray());
        // The same seed renders the same image (seeded z, seeded truncation mean, stored noise buffers) when the batch
        // split is the same: a forward pass of 3 rounds differently from one of 1 in the last float bits.
        var again = Path.Combine(_dir, "gen2");
        Assert.Equal(0, Invoke(new GenerateCommand().Build(), "--ckpt", _ckpt, "--seeds", "5", "-t", "0.7", "--batch", "1", "--out", again, "--device", "cpu"));
        Assert.Equal(File.ReadAllBytes(Path.Combine(outDir, "seed0005.png")), File.ReadAllBytes(Path.Combine(again, "seed0005.png")));
    }

    [Fact]
    public void MissingOrForeignCheckpointFailsWithExitCode2()
    {
        Assert.Equal(2, Invoke(new GenerateCommand().Build(), "--ckpt", Path.Combine(_dir, "nope.pt"), "--out", _dir, "--device", "cpu"));
        var foreign = Path.Combine(_dir, "d_only.pt");
        TorchFile.Save(foreign, new OrderedDictionary<string, object?> { ["d"] = new OrderedDictionary<string, object?>() });
        Assert.Equal(2, Invoke(new PanoramaCommand().Build(), "--ckpt", foreign, "--out", Path.Combine(_dir, "p.png"), "--device", "cpu"));
    }

    [Fact]
    public void ProjectWritesLatentsCheckpointReconstructionAndPlot()
    {
        var gen = Path.Combine(_dir, "gen");
        Assert.Equal(0, Invoke(new GenerateCommand().Build(), "--ckpt", _ckpt, "--seeds", "1,2", "--out", gen, "--device", "cpu"));
        var outDir = Path.Combine(_dir, "proj");
        Assert.Equal(0, Invoke(new ProjectCommand().Build(), Path.Combine(gen, "seed0001.png"), Path.Combine(gen, "seed0002.png"),
            "--ckpt", _ckpt, "--steps", "3", "--w-plus", "--align-face", "false", "--out", outDir, "--device", "cpu"));
        var latent = Npy.Load(Path.Combine(outDir, "seed0001-latent.npy"));
        Assert.Equal([6L, 8], latent.shape); // W+: n_latent rows of style_dim
        Assert.True(File.Exists(Path.Combine(outDir, "seed0002-project.png")));
        Assert.True(new FileInfo(Path.Combine(outDir, "loss.png")).Length > 0);
        // projector.py's layout: {file name: {"img", "latent", "noise": [...]}}
        var tree = (OrderedDictionary<string, object?>)TorchFile.Load(Path.Combine(outDir, "seed0001.pt"))!;
        var entry = (OrderedDictionary<string, object?>)tree["seed0002.png"]!;
        Assert.Equal([3L, 16, 16], ((Tensor)entry["img"]!).shape);
        Assert.Equal(5, ((List<object?>)entry["noise"]!).Count);
    }

    [Fact]
    public void PanoramaIsNumImagesTimesSizeWide()
    {
        var png = Path.Combine(_dir, "pano.png");
        Assert.Equal(0, Invoke(new PanoramaCommand().Build(), "--ckpt", _ckpt, "--images", "3", "--mean-samples", "64", "--out", png, "--device", "cpu"));
        using var bmp = SkiaSharp.SKBitmap.Decode(png);
        Assert.Equal((48, 16), (bmp.Width, bmp.Height));
    }
}
