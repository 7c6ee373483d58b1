using Pipeline.Engine.IO;
using Pipeline.Engine.Training;
using Pipeline.Engine.Training.Council;
using Pipeline.Worker.Cli.Training;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.Training;

/// <summary>`pipeline train council` end to end on a tiny council: reference snapshot files, optimizer state, resume.</summary>
public sealed class TrainCouncilCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("councilcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Invoke(params string[] args) => new TrainCommand().Build().Parse(args).Invoke();

    private static string[] Args(string run, int iterations, params string[] data) =>
    [
        "council", .. data.Length > 0 ? data : ["--synthetic"], "--count", "4", "--size", "16", "--council-size", "2", "--gen-dim", "4", "--mlp-dim", "8",
        "--style-dim", "4", "--n-res", "1", "--dis-dim", "4", "--dis-layers", "2", "--batch", "2", "--council-start", "1",
        "--iter", iterations.ToString(System.Globalization.CultureInfo.InvariantCulture), "--snapshot-every", "2", "--image-every", "1",
        "-o", run, "--device", "cpu",
    ];

    /// <summary>Adam's step count of the first parameter with state of one optimizer in optimizer_&lt;member&gt;.pt.</summary>
    private static long AdamSteps(string run, int member, string key)
    {
        var tree = (IDictionary<string, object?>)TorchFile.Load(CouncilTrainingSetup.OptimizerFile(run, member))!;
        var state = (IDictionary<string, object?>)((IDictionary<string, object?>)tree[key]!)["state"]!;
        return (long)((Tensor)((IDictionary<string, object?>)state.Values.First()!)["step"]!).item<float>();
    }

    [Fact]
    public void Synthetic_training_writes_reference_snapshots_and_resume_continues_Adam()
    {
        var run = Path.Combine(_dir, "run");
        Assert.Equal(0, Invoke(Args(run, 2)));
        foreach (var kind in new[] { "gen", "dis", "dis_council" })
            for (int i = 0; i < 2; i++)
                Assert.True(File.Exists(Path.Combine(run, $"b2a_{kind}_{i}_00000002.pt")), $"b2a_{kind}_{i}_00000002.pt");
        Assert.Equal(["optimizer_0.pt", "optimizer_1.pt"], Directory.GetFiles(run, "optimizer_*.pt").Select(Path.GetFileName).Order());
        Assert.Equal((2L, 2L, 1L), (AdamSteps(run, 0, "gen"), AdamSteps(run, 0, "dis"), AdamSteps(run, 1, "dis_council"))); // council D from iteration 1
        Assert.True(File.Exists(Path.Combine(run, "config.yaml")));
        Assert.True(File.Exists(Path.Combine(run, "losses.png")));
        Assert.True(new FileInfo(Path.Combine(run, "images", "00000002.png")).Length > 0, "image grid of the last iteration");
        Assert.Equal([0.0, 1.0], MetricLog.ReadNumbers(Path.Combine(run, "metrics.jsonl")).Select(r => r["iter"]));

        // --resume: the latest snapshot (step 2), its config.yaml and Adam states; the run goes on to iteration 3.
        Assert.Equal(0, Invoke([.. Args(run, 3), "--resume"]));
        Assert.True(File.Exists(Path.Combine(run, "b2a_gen_1_00000003.pt")));
        Assert.Equal([0.0, 1.0, 2.0], MetricLog.ReadNumbers(Path.Combine(run, "metrics.jsonl")).Select(r => r["iter"]));
        Assert.Equal((3L, 3L, 2L), (AdamSteps(run, 0, "gen"), AdamSteps(run, 0, "dis"), AdamSteps(run, 1, "dis_council")));

        // A snapshot without optimizer files (an older bundled model) still resumes; Adam starts over.
        foreach (var f in Directory.GetFiles(run, "optimizer_*.pt")) File.Delete(f);
        Assert.Equal(0, Invoke([.. Args(run, 4), "--resume"]));
        Assert.True(File.Exists(Path.Combine(run, "b2a_dis_council_0_00000004.pt")));
        Assert.Equal(1L, AdamSteps(run, 0, "gen"));
    }

    [Fact]
    public void Resume_with_an_empty_out_dir_starts_fresh_and_half_a_data_pair_is_a_usage_error()
    {
        var run = Path.Combine(_dir, "fresh");
        Assert.Equal(0, Invoke([.. Args(run, 1), "--resume"]));
        Assert.True(File.Exists(Path.Combine(run, "b2a_gen_0_00000001.pt")));
        Assert.Equal(1, Invoke(Args(Path.Combine(_dir, "x"), 1, "--data-a", _dir)));
    }
}
