using Pipeline.Engine.StyleGan2;
using Pipeline.Worker.Cli.Training;

namespace Pipeline.Worker.Tests.Training;

/// <summary>`pipeline data synth` and `pipeline train stylegan2` end to end on tiny settings.</summary>
public sealed class TrainingCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("traincli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Invoke(System.CommandLine.Command cmd, params string[] args) => cmd.Parse(args).Invoke();

    [Fact]
    public void Data_synth_is_deterministic_and_feeds_folder_training_with_resume()
    {
        var a = Path.Combine(_dir, "a");
        var b = Path.Combine(_dir, "b");
        Assert.Equal(0, Invoke(new DataCommand().Build(), "synth", "--kind", "faces-anime", "--count", "4", "--size", "16", "-o", a));
        Assert.Equal(0, Invoke(new DataCommand().Build(), "synth", "--kind", "faces-anime", "--count", "4", "--size", "16", "-o", b));
        var files = Directory.GetFiles(a, "*.png").Order().ToArray();
        Assert.Equal(4, files.Length);
        foreach (var f in files) Assert.Equal(File.ReadAllBytes(f), File.ReadAllBytes(Path.Combine(b, Path.GetFileName(f))));

        var run = Path.Combine(_dir, "run");
        string[] common = ["stylegan2", "--data", a, "--size", "16", "--channels", "8", "--latent", "8", "--n-mlp", "1", "--batch", "2",
            "--d-reg-every", "2", "--g-reg-every", "2", "--sample-every", "1", "--n-sample", "4", "-o", run, "--device", "cpu"];
        Assert.Equal(0, Invoke(new TrainCommand().Build(), [.. common, "--iter", "2"]));
        var first = Path.Combine(run, "checkpoint", "000002.pt");
        Assert.True(File.Exists(first));
        Assert.True(File.Exists(Path.Combine(run, "data-cache-16.safetensors")), "decoded images are cached");
        Assert.True(File.Exists(Path.Combine(run, "losses.png")));
        Assert.True(File.Exists(Path.Combine(run, "sample", "000001.png")));
        Assert.Equal(0, Invoke(new TrainCommand().Build(), [.. common, "--iter", "3", "--resume", first]));
        Assert.True(File.Exists(Path.Combine(run, "checkpoint", "000003.pt")));
        Assert.Equal(16, StyleGan2Checkpoint.Load(Path.Combine(run, "checkpoint", "000003.pt")).Generator.Config.Size);
    }

    [Fact]
    public void Train_without_data_is_a_usage_error()
    {
        Assert.Equal(1, Invoke(new TrainCommand().Build(), "stylegan2", "--size", "16", "-o", _dir));
        Assert.Equal(1, Invoke(new DataCommand().Build(), "synth", "--kind", "cats", "-o", _dir));
    }
}
