using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using Pipeline.Imaging.Synthetic;
using Pipeline.Worker.Cli;
using Pipeline.Worker.Cli.Training;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.Training;

/// <summary>`pipeline train stylegan1` end to end on a tiny config, and the bundled StyleGAN v1 model.</summary>
public sealed class TrainStyleGan1CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trainsg1-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Invoke(System.CommandLine.Command cmd, params string[] args) => cmd.Parse(args).Invoke();

    [Fact]
    public void Progressive_training_crosses_two_resolutions_and_writes_train_py_checkpoints()
    {
        var run = Path.Combine(_dir, "run");
        // phase 6 images with batch 4: 8 px for 4 iterations (used_sample must exceed 2 * phase), then 16 px fades in.
        Assert.Equal(0, Invoke(new TrainCommand().Build(), "stylegan1", "--synthetic", "paintings", "--count", "8", "--init-size", "8",
            "--max-size", "16", "--phase", "6", "--batch", "4", "--channels", "8,8,8", "--code-dim", "8", "--n-mlp", "1", "--mixing",
            "--iter", "7", "--sample-every", "2", "--checkpoint-every", "0", "--n-sample", "4", "-o", run, "--device", "cpu"));

        var records = MetricLogLines(Path.Combine(run, "metrics.jsonl"));
        Assert.Equal(7, records.Count);
        Assert.Equal([8, 8, 8, 8, 16, 16, 16], records.Select(r => (int)r["resolution"]));
        // The first resolution of a fresh run has no fade-in; the next starts at alpha 0 and rises by batch / phase.
        Assert.Equal([1.0, 1.0, 1.0, 1.0, 0.0, 0.833, 1.0], records.Select(r => Math.Round(r["alpha"], 3)));
        Assert.True(File.Exists(Path.Combine(run, "sample", "000006-16px.png")));

        // The phase change wrote train.py's step checkpoint (named after the step about to start) and the stop wrote last.model.
        foreach (var (file, size) in new[] { ("train_step-2.model", 8), ("last.model", 16) })
        {
            var path = Path.Combine(run, file);
            var tree = (OrderedDictionary<string, object?>)TorchFile.Load(path)!;
            Assert.Equal(["generator", "discriminator", "g_optimizer", "d_optimizer", "g_running"], tree.Keys);
            CheckpointTrees.DisposeTensors(tree);
            using var ck = StyleGan1Checkpoint.Load(path);
            using var g = ck.CreateGenerator();
            using var d = ck.CreateDiscriminator();
            Assert.Equal([8, 8, 8], g.Config.Channels);
            Assert.Equal(3, d.Config.Blocks);
            using var _ = no_grad();
            using var z = randn(2, 8);
            int step = size == 8 ? 1 : 2;
            using var img = g.Forward(z, new StyleGan1ForwardOptions { Step = step, Alpha = 1 });
            Assert.Equal([2L, 3, size, size], img.shape);
            Assert.True(img.isfinite().all().item<bool>());
        }
        // The optimiser state loads back into a trainer over the same networks (what a continued run needs).
        {
            using var ck = StyleGan1Checkpoint.Load(Path.Combine(run, "last.model"));
            using var g = ck.CreateGenerator(useRunningAverage: false);
            using var r = ck.CreateGenerator();
            using var d = ck.CreateDiscriminator();
            using var trainer = new StyleGan1Trainer(g, r, d);
            var tree = (OrderedDictionary<string, object?>)TorchFile.Load(Path.Combine(run, "last.model"))!;
            trainer.GOptimizer.LoadStateDict(tree["g_optimizer"], "g_optimizer");
            trainer.DOptimizer.LoadStateDict(tree["d_optimizer"], "d_optimizer");
            CheckpointTrees.DisposeTensors(tree);
        }
    }

    [Fact]
    public void A_failing_iteration_still_leaves_a_loadable_checkpoint()
    {
        var (gc, dc) = TrainStyleGan1Command.Configs(16, 8, 1, "8,8,8");
        var (g, d, r) = Pipeline.Engine.Training.StyleGan1.StyleGan1TrainingLoop.Create(gc, dc, CPU);
        using var _g = g;
        using var _d = d;
        using var _r = r;
        using var trainer = new StyleGan1Trainer(g, r, d);
        var o = new Pipeline.Engine.Training.StyleGan1.StyleGan1LoopOptions { InitSize = 8, MaxSize = 16, Phase = 100, BatchFor = _ => 4, Iterations = 10, SampleEvery = 0, OutDir = Path.Combine(_dir, "crash") };
        Assert.Throws<InvalidOperationException>(() => Pipeline.Engine.Training.StyleGan1.StyleGan1TrainingLoop.Run(g, d, r, trainer,
            size => Pipeline.Engine.Training.ImageTensorDataset.FromRgb([.. Enumerable.Range(0, 8).Select(i => TrainingData.DrawRgb(SyntheticKind.Paintings, i, size))], size),
            o, new FailAt(2)));
        using var ck = StyleGan1Checkpoint.Load(Path.Combine(o.OutDir, "last.model"));
        using var loaded = ck.CreateGenerator();
        Assert.Equal(3, loaded.Config.Levels);
    }

    private sealed class FailAt(long iteration) : Pipeline.Engine.Training.StyleGan1.IStyleGan1TrainingObserver
    {
        public void OnStep(Pipeline.Engine.Training.StyleGan1.StyleGan1StepStats s)
        {
            if (s.Iteration == iteration) throw new InvalidOperationException("stand-in for a failing iteration");
        }
    }

    [Fact]
    public void Synthetic_paintings_are_deterministic_per_seed_and_varied()
    {
        Assert.Equal(SyntheticPaintings.Draw(3, 32), SyntheticPaintings.Draw(3, 32));
        Assert.NotEqual(SyntheticPaintings.Draw(3, 32), SyntheticPaintings.Draw(4, 32));
        Assert.Equal(16 * 16 * 3, TrainingData.DrawRgb(SyntheticKind.Paintings, 0, 16).Length);
    }

    [Fact]
    public void Train_stylegan1_rejects_a_max_size_the_channels_do_not_cover() =>
        Assert.Equal(1, Invoke(new TrainCommand().Build(), "stylegan1", "--synthetic", "paintings", "--count", "4", "--max-size", "16",
            "--channels", "8,8", "--iter", "1", "-o", _dir, "--device", "cpu"));

    [Fact]
    public void The_bundled_StyleGan1_model_loads_and_its_samples_vary()
    {
        var path = BundledModels.StyleGan1;
        Assert.True(File.Exists(path), $"no bundled StyleGAN v1 model at {path}");
        using var ck = StyleGan1Checkpoint.Load(path);
        using var g = ck.CreateGenerator();
        int step = g.Config.MaxStep;
        using var _ = no_grad();
        using var images = StyleGan1Sampler.Sample(g, new StyleGan1SampleOptions { Seeds = [0, 1, 2, 3], Step = step, Truncation = 1 });
        Assert.Equal([4L, 3, 4L << step, 4L << step], images.shape);
        Assert.True(images.isfinite().all().item<bool>());
        // Not one constant picture: different seeds give different images, and each image has spatial structure.
        Assert.True((images[0] - images[1]).abs().mean().item<float>() > 0.01f);
        Assert.True(images.std([2, 3]).mean().item<float>() > 0.01f);
    }

    [Fact]
    public void Pipeline_mix_defaults_to_the_bundled_StyleGan1_model()
    {
        var cmd = new Pipeline.Worker.Cli.StyleGan1.MixCommand().Build();
        var model = cmd.Options.OfType<System.CommandLine.Option<FileInfo>>().Single(o => o.Name == "--model");
        var file = cmd.Parse([]).GetValue(model)!;
        Assert.Equal(Path.GetFullPath(BundledModels.StyleGan1), file.FullName);
        Assert.True(file.Exists, file.FullName);
    }

    private static List<Dictionary<string, double>> MetricLogLines(string path) => Pipeline.Engine.Training.MetricLog.ReadNumbers(path);
}
