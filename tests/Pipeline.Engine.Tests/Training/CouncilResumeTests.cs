using Pipeline.Engine.Council;
using Pipeline.Engine.IO;
using Pipeline.Engine.Training.Council;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Training;

/// <summary>
/// Council snapshots carry the optimizer state (optimizer_&lt;i&gt;.pt in torch.optim.Adam's state_dict layout), the
/// StepLR position and the loss-matching histories, so a resumed run takes exactly the step an uninterrupted one takes.
/// </summary>
public sealed class CouncilResumeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("councilresume-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // step_size 2: the resume at iteration 3 lands after a StepLR decay, so a lost schedule shows in the lr.
    private static CouncilConfig Tiny() => new(
        new GenOptions(Dim: 4, MlpDim: 8, StyleDim: 4, NDownsample: 1, NRes: 1),
        new DisOptions(Dim: 4, NLayer: 2, NumScales: 2),
        new CouncilOptions(CouncilSize: 2, ComparisonsPerStep: 2, LessStyleBy: 0.7, CouncilStartAtIter: 1),
        new TrainOptions(BatchSize: 2, Lr: 1e-3, WeightDecay: 1e-4, StepSize: 2, Gamma: 0.5), NewSize: 16, CropHeight: 16, CropWidth: 16);

    /// <summary>Stateless choice so both runs draw the same comparisons whatever happened before.</summary>
    private sealed class Fixed : ICouncilChooser
    {
        public int Choose(IReadOnlyList<int> pool, int member, int k) => pool[(member + k) % pool.Count];
    }

    /// <summary>Iteration k's inputs depend only on k.</summary>
    private static void StepAt(CouncilTrainer trainer, int k)
    {
        using var scope = NewDisposeScope();
        using var g = new Generator((ulong)(100 + k));
        var xA = rand([2, 3, 16, 16], generator: g) * 2 - 1;
        var xB = rand([2, 3, 16, 16], generator: g) * 2 - 1;
        Assert.Equal(k, trainer.Iteration);
        trainer.Step(xA, xB, trainer.SampleStyle(2, g), trainer.SampleStyle(2, g), trainer.SampleStyle(2, g), new Fixed());
    }

    private static CouncilTrainer Trained(CouncilConfig cfg, int steps)
    {
        var trainer = new CouncilTrainer(cfg, CouncilTrainingSetup.NewMembers(cfg, 1));
        for (int k = 0; k < steps; k++) StepAt(trainer, k);
        return trainer;
    }

    private static IEnumerable<(string Name, Tensor Value)> Parameters(CouncilTrainer t) =>
        t.Members.SelectMany((m, i) => new (string, nn.Module)[] { ("gen", m.Gen), ("dis", m.Dis), ("dis_council", m.DisCouncil) }
            .SelectMany(n => n.Item2.named_parameters().Select(p => ($"{n.Item1}.m{i}.{p.name}", p.parameter.detach()))));

    private static double MaxDiff(CouncilTrainer a, CouncilTrainer b) =>
        Parameters(a).Zip(Parameters(b)).Max(p =>
        {
            Assert.Equal(p.First.Name, p.Second.Name);
            return (p.First.Value - p.Second.Value).abs().max().item<float>();
        });

    private CouncilTrainer Resumed(CouncilConfig cfg, out CouncilResumeReport report)
    {
        var step = CouncilTrainingSetup.LatestStep(_dir, cfg)!.Value;
        var trainer = new CouncilTrainer(cfg, CouncilTrainingSetup.Load(_dir, cfg, step));
        report = CouncilTrainingSetup.Restore(_dir, trainer, step);
        return trainer;
    }

    [Fact]
    public void Resumed_step_equals_the_uninterrupted_runs_next_step()
    {
        // The uninterrupted run is the saved trainer itself going on (two fresh runs would share libtorch's global
        // RNG in NewMembers with tests running in parallel).
        var cfg = Tiny();
        using var uninterrupted = Trained(cfg, 3);
        CouncilTrainingSetup.Save(_dir, uninterrupted, cfg);
        StepAt(uninterrupted, 3);

        using var resumed = Resumed(cfg, out var report);
        Assert.True(report.AdamRestored, string.Join("; ", report.Notes));
        Assert.True(report.LossMatchingRestored, string.Join("; ", report.Notes));
        Assert.Equal(3, resumed.Iteration);
        Assert.Equal(3, resumed.SchedulerSteps);
        StepAt(resumed, 3);
        Assert.Equal(0, MaxDiff(uninterrupted, resumed));
        Assert.Equal(uninterrupted.LearningRate, resumed.LearningRate);
        Assert.Equal(cfg.Train.Lr * cfg.Train.Gamma * cfg.Train.Gamma, resumed.LearningRate, 15); // 4 steps, step_size 2

        // Control: the same snapshot without optimizer files (an older bundled model) restarts Adam, which shows.
        for (int i = 0; i < 2; i++) File.Delete(CouncilTrainingSetup.OptimizerFile(_dir, i));
        using var restarted = Resumed(cfg, out var noAdam);
        Assert.False(noAdam.AdamRestored);
        Assert.Contains(noAdam.Notes, n => n.Contains("optimizer_0.pt not found", StringComparison.Ordinal) && n.Contains("Adam restarts", StringComparison.Ordinal));
        Assert.Equal(cfg.Train.Lr * cfg.Train.Gamma, restarted.LearningRate, 15); // StepLR replayed to iteration 3
        StepAt(restarted, 3);
        Assert.True(MaxDiff(uninterrupted, restarted) > 1e-6, "a restarted Adam must take a different step (else the test above proves nothing)");
    }

    [Fact]
    public void PyTorch_1_5_style_optimizer_files_resume_the_same()
    {
        // Loss matching off: the histories, which this file set lacks, do not enter the step.
        var cfg = Tiny() with { Train = Tiny().Train with { DoWLossMatching = false } };
        using var uninterrupted = Trained(cfg, 3);
        CouncilTrainingSetup.Save(_dir, uninterrupted, cfg);
        StepAt(uninterrupted, 3);
        // The reference pins PyTorch 1.5: Adam's step is a Python int, state keys are ints, and the file has no
        // loss-matching companion (the histories restart at ones, as the reference's do).
        for (int i = 0; i < 2; i++)
        {
            var path = CouncilTrainingSetup.OptimizerFile(_dir, i);
            var tree = (IDictionary<string, object?>)TorchFile.Load(path)!;
            var rewritten = new OrderedDictionary<string, object?>();
            foreach (var (key, opt) in tree)
            {
                var o = (IDictionary<string, object?>)opt!;
                var state = new Dictionary<long, object?>();
                foreach (var (index, entry) in (IDictionary<string, object?>)o["state"]!)
                {
                    var e = (IDictionary<string, object?>)entry!;
                    state[long.Parse(index, System.Globalization.CultureInfo.InvariantCulture)] = new OrderedDictionary<string, object?>
                    {
                        ["step"] = (long)((Tensor)e["step"]!).item<float>(), ["exp_avg"] = e["exp_avg"], ["exp_avg_sq"] = e["exp_avg_sq"],
                    };
                }
                rewritten[key] = new OrderedDictionary<string, object?> { ["state"] = state, ["param_groups"] = o["param_groups"] };
            }
            TorchFile.Save(path, rewritten);
            File.Delete(CouncilTrainingSetup.LossMatchingFile(_dir, i));
        }
        using var resumed = Resumed(cfg, out var report);
        Assert.True(report.AdamRestored, string.Join("; ", report.Notes));
        Assert.False(report.LossMatchingRestored);
        Assert.Contains(report.Notes, n => n.Contains("loss-matching histories restart", StringComparison.Ordinal));
        StepAt(resumed, 3);
        Assert.Equal(0, MaxDiff(uninterrupted, resumed));
    }

    [Fact]
    public void Optimizer_file_has_the_reference_layout()
    {
        var cfg = Tiny();
        using (var t = Trained(cfg, 3)) CouncilTrainingSetup.Save(_dir, t, cfg);
        var members = CouncilTrainingSetup.Load(_dir, cfg, 3);
        Assert.Equal(["optimizer_0.pt", "optimizer_1.pt"], Directory.GetFiles(_dir, "optimizer_*").Select(Path.GetFileName).Order());
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));

        var tree = Assert.IsType<OrderedDictionary<string, object?>>(TorchFile.Load(CouncilTrainingSetup.OptimizerFile(_dir, 1)));
        Assert.Equal(["gen", "dis", "dis_council"], tree.Keys);
        // council_start_at_iter 1: the council D took 2 of the 3 steps.
        foreach (var (key, net, steps) in new (string, nn.Module, long)[] { ("gen", members[1].Gen, 3), ("dis", members[1].Dis, 3), ("dis_council", members[1].DisCouncil, 2) })
        {
            var opt = Assert.IsAssignableFrom<IDictionary<string, object?>>(tree[key]);
            Assert.Equal(["state", "param_groups"], opt.Keys);
            var group = Assert.IsAssignableFrom<IDictionary<string, object?>>(Assert.Single(Assert.IsType<List<object?>>(opt["param_groups"])));
            foreach (var k in new[] { "lr", "betas", "eps", "weight_decay", "amsgrad", "initial_lr", "params" }) Assert.True(group.ContainsKey(k), $"{key}: param group lacks '{k}'");
            Assert.Equal(cfg.Train.Lr * cfg.Train.Gamma, (double)group["lr"]!, 15);
            Assert.Equal(cfg.Train.Lr, (double)group["initial_lr"]!);
            Assert.Equal(new object?[] { cfg.Train.Beta1, cfg.Train.Beta2 }, (object?[])group["betas"]!);
            Assert.Equal(cfg.Train.WeightDecay, (double)group["weight_decay"]!);
            Assert.Equal(false, group["amsgrad"]);
            var parameters = net.named_parameters().ToArray();
            Assert.Equal(Enumerable.Range(0, parameters.Length).Select(i => (object?)(long)i), Assert.IsType<List<object?>>(group["params"]));

            var state = Assert.IsAssignableFrom<IDictionary<string, object?>>(opt["state"]);
            // Parameters that never get a gradient (the generator's style encoder, unused by b2a) have no state, as in PyTorch.
            var expected = parameters.Select((p, i) => (p, i)).Where(x => !(key == "gen" && x.p.name.StartsWith("enc_style.", StringComparison.Ordinal))).Select(x => x.i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(expected, state.Keys);
            foreach (var (index, value) in state)
            {
                var entry = Assert.IsAssignableFrom<IDictionary<string, object?>>(value);
                Assert.Equal(["step", "exp_avg", "exp_avg_sq"], entry.Keys);
                Assert.Equal(steps, (long)((Tensor)entry["step"]!).item<float>());
                var shape = parameters[int.Parse(index, System.Globalization.CultureInfo.InvariantCulture)].parameter.shape;
                Assert.Equal(shape, ((Tensor)entry["exp_avg"]!).shape);
                Assert.Equal(shape, ((Tensor)entry["exp_avg_sq"]!).shape);
                Assert.True(((Tensor)entry["exp_avg_sq"]!).ge(0).all().item<bool>());
            }
        }
    }

    [Fact]
    public void Optimizer_state_newer_than_the_snapshot_is_not_paired_with_older_weights()
    {
        var cfg = Tiny();
        using (var t = Trained(cfg, 3))
        {
            CouncilTrainingSetup.Save(_dir, t, cfg);
            StepAt(t, 3);
            CouncilTrainingSetup.Save(_dir, t, cfg);
        }
        // A crash while writing step 4's weights: the optimizer files are already step 4's.
        File.Delete(Path.Combine(_dir, "b2a_dis_council_1_00000004.pt"));
        using var resumed = Resumed(cfg, out var report);
        Assert.Equal(3, report.Step);
        Assert.False(report.AdamRestored);
        Assert.Contains(report.Notes, n => n.Contains("more than snapshot 00000003", StringComparison.Ordinal));
        Assert.False(report.LossMatchingRestored);
        Assert.Equal(cfg.Train.Lr * cfg.Train.Gamma, resumed.LearningRate, 15);
    }
}
