using Pipeline.Engine;
using System.CommandLine;
using System.Globalization;
using Pipeline.Engine.Council;
using Pipeline.Engine.Training;
using Pipeline.Engine.Training.Council;
using Pipeline.Worker.Cli.StyleGan2;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Training;

/// <summary>`pipeline train council`: Council-GAN b2a training (domain B = inputs, e.g. selfies; domain A = target style, e.g. anime).</summary>
internal static class TrainCouncilCommand
{
    public static Command Build()
    {
        var dataA = new Option<DirectoryInfo?>("--data-a") { Description = "Domain A image folder (the target style, trainA)" };
        var dataB = new Option<DirectoryInfo?>("--data-b") { Description = "Domain B image folder (the inputs, trainB)" };
        var synthetic = new Option<bool>("--synthetic") { Description = "Built-in data: A = anime-like faces, B = photo-like faces" };
        var count = new Option<int>("--count") { Description = "Synthetic images per domain", DefaultValueFactory = _ => 2000 };
        var config = new Option<FileInfo?>("--config") { Description = "A Council-GAN yaml (reference keys); overrides the architecture flags below" };
        var size = new Option<int>("--size") { Description = "new_size (= crop size)", DefaultValueFactory = _ => 128 };
        var councilSize = new Option<int>("--council-size") { DefaultValueFactory = _ => 4 };
        var genDim = new Option<int>("--gen-dim") { DefaultValueFactory = _ => 64 };
        var mlpDim = new Option<int>("--mlp-dim") { DefaultValueFactory = _ => 256 };
        var styleDim = new Option<int>("--style-dim") { DefaultValueFactory = _ => 8 };
        var nRes = new Option<int>("--n-res") { DefaultValueFactory = _ => 4 };
        var disDim = new Option<int>("--dis-dim") { DefaultValueFactory = _ => 64 };
        var nLayer = new Option<int>("--dis-layers") { DefaultValueFactory = _ => 4 };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 3 };
        var councilStart = new Option<int>("--council-start") { Description = "council_start_at_iter", DefaultValueFactory = _ => 1000 };
        var iter = new Option<long>("--iter") { DefaultValueFactory = _ => 1_500_000 };
        var maxMinutes = new Option<double?>("--max-minutes") { Description = "Stop (with a snapshot) after this much wall-clock time" };
        var snapshot = new Option<int>("--snapshot-every") { DefaultValueFactory = _ => 10_000 };
        var imageEvery = new Option<int>("--image-every") { DefaultValueFactory = _ => 1000 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 1 };
        var resume = new Option<bool>("--resume") { Description = "Continue from the latest complete snapshot in --out (weights, Adam states from optimizer_<i>.pt, StepLR, loss matching)" };
        var outDir = Sg2Cli.OutDir("training/council");
        var device = CliDevice.Option();
        var cmd = new Command("council", "Train a Council GAN (b2a; LSGAN multi-scale, council loss with loss matching, Adam + weight decay, StepLR).")
        {
            dataA, dataB, synthetic, count, config, size, councilSize, genDim, mlpDim, styleDim, nRes, disDim, nLayer, batch, councilStart,
            iter, maxMinutes, snapshot, imageEvery, seed, resume, outDir, device,
        };
        cmd.SetAction((p, ct) => Task.FromResult(Sg2Cli.Run(() =>
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            var dir = p.GetValue(outDir)!.FullName;
            Directory.CreateDirectory(dir);
            CouncilConfig cfg;
            if (p.GetValue(config) is { } yaml) cfg = CouncilConfig.Load(yaml.FullName);
            else if (p.GetValue(resume) && File.Exists(Path.Combine(dir, "config.yaml"))) cfg = CouncilConfig.Load(Path.Combine(dir, "config.yaml"));
            else
            {
                int s = p.GetValue(size);
                cfg = new CouncilConfig(
                    new GenOptions(p.GetValue(genDim), p.GetValue(mlpDim), p.GetValue(styleDim), 2, p.GetValue(nRes)),
                    new DisOptions(p.GetValue(disDim), NLayer: p.GetValue(nLayer)),
                    new CouncilOptions(p.GetValue(councilSize), p.GetValue(councilSize), 0.7, p.GetValue(councilStart)),
                    new TrainOptions(BatchSize: p.GetValue(batch)), s, s, s);
            }
            long? start = p.GetValue(resume) ? CouncilTrainingSetup.LatestStep(dir, cfg) : null;
            if (p.GetValue(resume) && start is null)
                AnsiConsole.MarkupLineInterpolated($"[yellow]--resume: no complete snapshot in {dir}; starting from a fresh initialisation[/]");
            var members = start is { } step ? CouncilTrainingSetup.Load(dir, cfg, step, dev) : CouncilTrainingSetup.NewMembers(cfg, p.GetValue(seed), dev);
            using var trainer = new CouncilTrainer(cfg, members);
            if (start is { } s0)
            {
                var report = CouncilTrainingSetup.Restore(dir, trainer, s0);
                foreach (var note in report.Notes) AnsiConsole.MarkupLineInterpolated($"[yellow]{note}[/]");
                AnsiConsole.MarkupLineInterpolated($"resumed at iteration {s0}: Adam {(report.AdamRestored ? "state restored" : "RESTARTED for the members above")}, lr {trainer.LearningRate:G4}");
            }
            var (a, b) = LoadData(p.GetValue(dataA), p.GetValue(dataB), p.GetValue(synthetic), p.GetValue(count), cfg.NewSize, dir);
            using (a)
            using (b)
            {
                AnsiConsole.MarkupLineInterpolated($"Council GAN {cfg.NewSize} px, {cfg.Council.CouncilSize} members, {members[0].Gen.parameters().Sum(x => x.numel()):N0} G parameters each, A {a.Count} / B {b.Count} images, from iteration {trainer.Iteration}");
                var loop = new CouncilLoopOptions
                {
                    Iterations = p.GetValue(iter), OutDir = dir, SnapshotEvery = p.GetValue(snapshot), ImageEvery = p.GetValue(imageEvery),
                    Seed = p.GetValue(seed), MaxTime = p.GetValue(maxMinutes) is { } m ? TimeSpan.FromMinutes(m) : null,
                };
                string last = "";
                CliProgress.Run("training", loop.Iterations, task =>
                {
                    task.ResumeFrom(trainer.Iteration);
                    last = CouncilTrainingLoop.Run(trainer, cfg, a, b, loop, new Observer(task, dir), ct);
                });
                Plot(dir);
                AnsiConsole.MarkupLineInterpolated($"[green]done[/] at iteration {trainer.Iteration}: model prefix {last} (pipeline translate --model {last}), images/, losses.png, metrics.jsonl");
            }
            return 0;
        })));
        return cmd;
    }

    private static void Plot(string dir) =>
        TrainingPlots.Save(Path.Combine(dir, "metrics.jsonl"), ["dis", "dis_council", "gen_adv", "gen_council"], "Council GAN training", Path.Combine(dir, "losses.png"));

    private static (ImageTensorDataset A, ImageTensorDataset B) LoadData(DirectoryInfo? a, DirectoryInfo? b, bool synthetic, int count, int size, string outDir)
    {
        if (synthetic)
        {
            if (a is not null || b is not null) throw new ArgumentException("give either --synthetic or --data-a/--data-b");
            // Different seed ranges: the domains are unpaired, as in the reference's trainA/trainB.
            return (TrainingData.Synthetic(SyntheticKind.FacesAnime, count, size, 0), TrainingData.Synthetic(SyntheticKind.FacesPhoto, count, size, 1_000_000));
        }
        if (a is null || b is null) throw new ArgumentException("give --data-a and --data-b (or --synthetic)");
        return (TrainingData.Folder(a.FullName, size, Path.Combine(outDir, $"data-cache-a-{size}.safetensors")),
            TrainingData.Folder(b.FullName, size, Path.Combine(outDir, $"data-cache-b-{size}.safetensors")));
    }

    private sealed class Observer(CliTask task, string dir) : ICouncilTrainingObserver
    {
        private readonly bool _plain = !CliProgress.Interactive;

        public void OnStep(CouncilStepStats s) =>
            task.Set(s.Iteration + 1, FormattableString.Invariant($"dis {s.Dis:F3} dis_council {s.DisCouncil:F3} gen_adv {s.GenAdv:F3} gen_council {s.GenCouncil:F3} lr {s.LearningRate:G3}"));

        public void OnImages(long iteration, Tensor inputs, Tensor translations)
        {
            // One row per input: the input, then each member's translation.
            using var scope = NewDisposeScope();
            long n = inputs.shape[0], c = translations.shape[0];
            var tiles = cat([inputs.unsqueeze(1), translations.transpose(0, 1)], 1).reshape(n * (c + 1), 3, inputs.shape[2], inputs.shape[3]);
            Sg2Images.SavePng(Sg2Images.ContactSheet(tiles, (int)c + 1), Path.Combine(dir, "images", iteration.ToString("D8", CultureInfo.InvariantCulture) + ".png"));
        }

        public void OnCheckpoint(long iteration, string prefix)
        {
            Plot(dir);
            if (_plain) Console.WriteLine($"snapshot {prefix}");
        }
    }
}
