using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using Pipeline.Worker.Cli.StyleGan1;
using SkiaSharp;
using Pipeline.Worker.Cli.StyleGan2;
using Pipeline.Worker.Operations.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.StyleGan1;

/// <summary>`pipeline project` on a tiny StyleGAN v1 checkpoint: family detection, projector.py's outputs, a falling loss, refused options.</summary>
public sealed class ProjectStyleGan1Tests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sg1-project-").FullName;
    private readonly string _ckpt;
    private readonly string _image;
    private const int CodeDim = 8;

    public ProjectStyleGan1Tests()
    {
        manual_seed(5);
        // Three levels (4, 8, 16 px); trained noise strengths at every level, so the detected resolution is 16 px.
        using var g = new StyledGenerator(new StyleGan1GeneratorConfig { CodeDim = CodeDim, NMlp = 2, Channels = [8, 8, 6], FusedLevels = new HashSet<int>() });
        using (no_grad())
            foreach (var (name, p) in g.named_parameters())
                if (name.Contains("noise", StringComparison.Ordinal)) p.normal_();
        g.eval();
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in g.state_dict()) sd[k] = v;
        _ckpt = Path.Combine(_dir, "tiny-v1.model");
        // train.py's layout: the EMA generator under g_running.
        TorchFile.Save(_ckpt, new OrderedDictionary<string, object?> { ["g_running"] = sd });

        using var gen = new torch.Generator(11);
        using (no_grad())
        {
            var z = randn([1, CodeDim], generator: gen);
            var img = g.Forward([z], new StyleGan1ForwardOptions { Step = 2, NoiseGenerator = gen });
            _image = Path.Combine(_dir, "face.png");
            File.WriteAllBytes(_image, GeneratorImages.EncodePng(img));
        }
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private int Project(string outDir, params string[] extra) =>
        new ProjectCommand().Build().Parse([_image, "--ckpt", _ckpt, "--align-face", "false", "--out", outDir, "--device", "cpu", .. extra]).Invoke();

    /// <summary>Mean squared difference of two 8-bit RGB PNGs, in [0, 1] units.</summary>
    private static double Mse(string a, string b)
    {
        using var x = SKBitmap.Decode(a);
        using var y = SKBitmap.Decode(b);
        Assert.Equal((x.Width, x.Height), (y.Width, y.Height));
        double sum = 0;
        for (int v = 0; v < x.Height; v++)
            for (int u = 0; u < x.Width; u++)
            {
                SKColor p = x.GetPixel(u, v), q = y.GetPixel(u, v);
                foreach (var d in new[] { p.Red - q.Red, p.Green - q.Green, p.Blue - q.Blue }) sum += d / 255.0 * (d / 255.0);
            }
        return sum / (3.0 * x.Width * x.Height);
    }

    [Fact]
    public void ProjectsAtTheDetectedResolutionAndTheLossFalls()
    {
        var start = Path.Combine(_dir, "p0");
        var run = Path.Combine(_dir, "p20");
        Assert.Equal(0, Project(start, "--steps", "0"));
        Assert.Equal(0, Project(run, "--steps", "20"));

        var latent = Npy.Load(Path.Combine(run, "face-latent.npy"));
        Assert.Equal([(long)CodeDim], latent.shape);
        using var png = SKBitmap.Decode(Path.Combine(run, "face-project.png"));
        Assert.Equal((16, 16), (png.Width, png.Height));
        Assert.True(new FileInfo(Path.Combine(run, "loss.png")).Length > 0);
        // projector.py's layout: {file name: {"img", "latent", "noise": one map per level}}
        var tree = (OrderedDictionary<string, object?>)TorchFile.Load(Path.Combine(run, "face.pt"))!;
        var entry = (OrderedDictionary<string, object?>)tree["face.png"]!;
        Assert.Equal([3L, 16, 16], ((Tensor)entry["img"]!).shape);
        Assert.Equal([(long)CodeDim], ((Tensor)entry["latent"]!).shape);
        var noise = ((List<object?>)entry["noise"]!).Cast<Tensor>().ToList();
        Assert.Equal([[1L, 1, 4, 4], [1L, 1, 8, 8], [1L, 1, 16, 16]], noise.Select(n => n.shape).ToArray());

        double before = Mse(_image, Path.Combine(start, "face-project.png"));
        double after = Mse(_image, Path.Combine(run, "face-project.png"));
        TestContext.Current.TestOutputHelper?.WriteLine($"reconstruction MSE: {before:G4} at 0 steps, {after:G4} at 20 steps");
        Assert.True(after < before, $"reconstruction MSE {after} after 20 steps is not below {before} at the start");
    }

    [Fact]
    public void BareGeneratorStateDictIsDetectedAsStyleGan1()
    {
        // train.py's periodic NNNNNN.model files: the g_running state_dict without the outer dict.
        var tree = (OrderedDictionary<string, object?>)TorchFile.Load(_ckpt)!;
        var bare = Path.Combine(_dir, "010000.model");
        TorchFile.Save(bare, tree["g_running"]);
        var outDir = Path.Combine(_dir, "bare");
        int rc = new ProjectCommand().Build().Parse([_image, "--ckpt", bare, "--steps", "2", "--align-face", "false", "--out", outDir, "--device", "cpu"]).Invoke();
        Assert.Equal(0, rc);
        Assert.Equal([(long)CodeDim], Npy.Load(Path.Combine(outDir, "face-latent.npy")).shape);
    }

    [Theory]
    [InlineData("--w-plus")]
    [InlineData("--init", "encoder")]
    public void OptionsV1HasNoCounterpartForAreRefused(params string[] option)
    {
        var outDir = Path.Combine(_dir, "refused");
        Assert.Equal(1, Project(outDir, ["--steps", "1", .. option]));
        Assert.False(File.Exists(Path.Combine(outDir, "face-latent.npy")));
        // The one-line error the command prints for them.
        var settings = new ProjectSettings
        {
            Files = [new FileInfo(_image)], OutDir = new DirectoryInfo(outDir),
            WPlus = option[0] == "--w-plus", Init = option[0] == "--init" ? option[1] : "auto",
        };
        var message = ProjectStyleGan1.Unsupported(settings);
        Assert.NotNull(message);
        Assert.Contains(option[0] == "--w-plus" ? "--w-plus" : "--init encoder", message);
        Assert.Contains("StyleGAN v1", message);
        Assert.DoesNotContain("\n", message);
        Assert.Null(ProjectStyleGan1.Unsupported(settings with { WPlus = false, Init = "mean" }));
    }
}
