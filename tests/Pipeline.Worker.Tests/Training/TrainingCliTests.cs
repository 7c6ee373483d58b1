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
            "--d-reg-every", "2", "--g-reg-every", "2", "--sample-every", "1", "--n-sample", "4", "--metrics-every", "0", "-o", run, "--device", "cpu"];
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
    public void Training_writes_one_metric_record_per_evaluation_never_named_fid_unless_it_is()
    {
        var run = Path.Combine(_dir, "metrics-run");
        var stats = Path.Combine(_dir, "ref.npz");
        Pipeline.Engine.Metrics.Fid.FidStatsFile.Save(stats, new Pipeline.Engine.Metrics.Fid.GaussianStats(new double[4], new double[16], 10));
        Assert.Equal(0, Invoke(new TrainCommand().Build(), "stylegan2", "--synthetic", "faces", "--count", "4", "--size", "16", "--channels", "8",
            "--latent", "8", "--n-mlp", "1", "--batch", "2", "--iter", "5", "--checkpoint-every", "2", "--metrics-samples", "6",
            "--fid-ref", stats, "-o", run, "--device", "cpu"));
        // With the checkpoints (train.py's i % every == 0 counts iteration 0, so after 1 and 3 completed iterations)
        // and at the end (5), one JSON line each; the record's iteration is the number of completed iterations.
        var proxy = File.ReadAllLines(Path.Combine(run, $"metric-{Pipeline.Engine.Training.ProxyFrechet.Name}.jsonl"))
            .Select(Pipeline.Metrics.MetricRecord.FromJsonLine).ToList();
        Assert.Equal([1L, 3L, 5L], proxy.Select(r => Convert.ToInt64(r.Settings["iteration"]?.ToString(), System.Globalization.CultureInfo.InvariantCulture)));
        Assert.All(proxy, r => Assert.True(r.Status == "ok" && r.Value is { } v && double.IsFinite(v) && v >= 0, r.ToJsonLine()));
        Assert.All(proxy, r => Assert.Equal(6, r.Images));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(run, $"metric-{Pipeline.Engine.Training.ProxyFrechet.PixelName}.jsonl")).Length);
        // Proxies are never called FID; real FID is its own record, skipped with the reason when the Inception weights are absent.
        Assert.DoesNotContain("fid", Pipeline.Engine.Training.ProxyFrechet.Name.Replace("-fd", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
        var fid = File.ReadAllLines(Path.Combine(run, "metric-fid6.jsonl")).Select(Pipeline.Metrics.MetricRecord.FromJsonLine).ToList();
        Assert.Equal(3, fid.Count);
        Assert.All(fid, r => Assert.True(r.Status == "skipped" ? r.Value is null && !string.IsNullOrEmpty(r.Reason) : r.Status is "ok" or "failed", r.ToJsonLine()));
    }

    [Fact]
    public void Train_without_data_is_a_usage_error()
    {
        Assert.Equal(1, Invoke(new TrainCommand().Build(), "stylegan2", "--size", "16", "-o", _dir));
        Assert.Equal(1, Invoke(new DataCommand().Build(), "synth", "--kind", "cats", "-o", _dir));
    }
}
