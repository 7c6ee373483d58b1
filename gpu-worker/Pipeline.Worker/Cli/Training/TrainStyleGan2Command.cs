using Pipeline.Engine;
using System.CommandLine;
using System.Globalization;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.Training;
using Pipeline.Engine.Training.StyleGan2;
using Pipeline.Worker.Cli.StyleGan2;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Training;

/// <summary>`pipeline train stylegan2`: rosinality train.py on an image folder or the built-in synthetic data.</summary>
internal static class TrainStyleGan2Command
{
    public static Command Build()
    {
        var data = new Option<DirectoryInfo?>("--data") { Description = "Image folder (any size; resized and centre-cropped, cached as tensors)" };
        var synthetic = new Option<string?>("--synthetic") { Description = "Built-in data instead of --data: faces (photo-like), faces-anime, landscapes" };
        var count = new Option<int>("--count") { Description = "Number of synthetic images", DefaultValueFactory = _ => 2000 };
        var size = new Option<int>("--size") { Description = "Image size (power of two)", DefaultValueFactory = _ => 256 };
        var channels = new Option<string?>("--channels") { Description = "Channel table: one number for every resolution, or 4:64,8:64,16:32,...; default the reference table (channel_multiplier 2)" };
        var styleDim = new Option<int>("--latent") { Description = "style_dim (reference 512)", DefaultValueFactory = _ => 512 };
        var nMlp = new Option<int>("--n-mlp") { Description = "Mapping network depth (reference 8)", DefaultValueFactory = _ => 8 };
        var batch = new Option<int>("--batch") { Description = "Batch size", DefaultValueFactory = _ => 16 };
        var iter = new Option<long>("--iter") { Description = "Total iterations", DefaultValueFactory = _ => 800_000 };
        var maxMinutes = new Option<double?>("--max-minutes") { Description = "Stop (with a checkpoint) after this much wall-clock time" };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 0.002 };
        var r1 = new Option<double>("--r1") { DefaultValueFactory = _ => 10 };
        var pathReg = new Option<double>("--path-regularize") { DefaultValueFactory = _ => 2 };
        var pathShrink = new Option<int>("--path-batch-shrink") { DefaultValueFactory = _ => 2 };
        var dReg = new Option<int>("--d-reg-every") { DefaultValueFactory = _ => 16 };
        var gReg = new Option<int>("--g-reg-every") { DefaultValueFactory = _ => 4 };
        var mixing = new Option<double>("--mixing") { DefaultValueFactory = _ => 0.9 };
        var sampleEvery = new Option<int>("--sample-every") { DefaultValueFactory = _ => 100 };
        var ckptEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 10_000 };
        var nSample = new Option<int>("--n-sample") { DefaultValueFactory = _ => 16 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var resume = new Option<FileInfo?>("--resume") { Description = "Continue from a train.py checkpoint (ours or the reference's)" };
        var metricsEvery = new Option<int?>("--metrics-every") { Description = "Metric records (metric-<name>.jsonl) every N iterations and at the end; default: at every checkpoint; 0: none" };
        var metricsSamples = new Option<int>("--metrics-samples") { Description = "Generated (and reference) images per metric evaluation", DefaultValueFactory = _ => 1000 };
        var fidRef = new Option<FileInfo?>("--fid-ref") { Description = "Inception statistics (.npz, `pipeline stats`) of the real data: adds FID records (skipped, with the reason, without the Inception weights)" };
        var outDir = Sg2Cli.OutDir("training/stylegan2");
        var device = CliDevice.Option();
        var cmd = new Command("stylegan2", "Train a StyleGAN2 (rosinality train.py: logistic loss, lazy R1 and path-length regularisation, mixing, EMA).")
        {
            data, synthetic, count, size, channels, styleDim, nMlp, batch, iter, maxMinutes, lr, r1, pathReg, pathShrink, dReg, gReg,
            mixing, sampleEvery, ckptEvery, nSample, seed, resume, metricsEvery, metricsSamples, fidRef, outDir, device,
        };
        cmd.SetAction((p, ct) => Task.FromResult(Sg2Cli.Run(() =>
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            var options = new StyleGan2TrainOptions
            {
                Batch = p.GetValue(batch), Lr = p.GetValue(lr), R1 = p.GetValue(r1), PathRegularize = p.GetValue(pathReg),
                PathBatchShrink = p.GetValue(pathShrink), DRegEvery = p.GetValue(dReg), GRegEvery = p.GetValue(gReg),
                Mixing = p.GetValue(mixing), Seed = p.GetValue(seed),
            };
            var dir = p.GetValue(outDir)!.FullName;
            Directory.CreateDirectory(dir);
            using var trainer = p.GetValue(resume) is { } res
                ? StyleGan2Trainer.Resume(res.FullName, options, dev)
                : new StyleGan2Trainer(GConfig(p.GetValue(size), p.GetValue(styleDim), p.GetValue(nMlp), p.GetValue(channels)),
                    new DiscriminatorConfig(p.GetValue(size), Channels(p.GetValue(size), p.GetValue(channels))), options, dev);
            int s = trainer.G.Config.Size;
            using var dataset = LoadData(p.GetValue(data), p.GetValue(synthetic), p.GetValue(count), s, dir);
            AnsiConsole.MarkupLineInterpolated($"StyleGAN2 {s} px, {trainer.G.parameters().Sum(x => x.numel()):N0} G / {trainer.D.parameters().Sum(x => x.numel()):N0} D parameters, {dataset.Count} images, from iteration {trainer.Iteration}");
            int every = p.GetValue(metricsEvery) ?? p.GetValue(ckptEvery);
            using var metrics = every > 0
                ? StyleGan2TrainingMetrics.For(p.GetValue(synthetic), dataset, p.GetValue(metricsSamples), dir, p.GetValue(fidRef)?.FullName, dev)
                : null;
            var loop = new StyleGan2LoopOptions
            {
                Iterations = p.GetValue(iter), OutDir = dir, SampleEvery = p.GetValue(sampleEvery), CheckpointEvery = p.GetValue(ckptEvery),
                NSample = p.GetValue(nSample), MaxTime = p.GetValue(maxMinutes) is { } m ? TimeSpan.FromMinutes(m) : null,
                EvaluateEvery = every, Evaluate = metrics is null ? null : metrics.Evaluate,
            };
            string last = "";
            CliProgress.Run("training", loop.Iterations, task =>
            {
                task.ResumeFrom(trainer.Iteration);
                last = StyleGan2TrainingLoop.Run(trainer, dataset, loop, new Observer(task, dir), ct);
            });
            TrainingPlots.Save(Path.Combine(dir, "metrics.jsonl"), ["d", "g", "r1", "path", "real_score", "fake_score"], "StyleGAN2 training", Path.Combine(dir, "losses.png"));
            AnsiConsole.MarkupLineInterpolated($"[green]done[/] at iteration {trainer.Iteration}: {last}, samples in {Path.Combine(dir, "sample")}, losses.png, metrics.jsonl");
            return 0;
        })));
        return cmd;
    }

    internal static ImageTensorDataset LoadData(DirectoryInfo? folder, string? synthetic, int count, int size, string outDir, int syntheticSeed0 = 0)
    {
        if ((folder is null) == (synthetic is null)) throw new ArgumentException("give exactly one of --data <folder> and --synthetic <kind>");
        if (folder is not null)
            return TrainingData.Folder(folder.FullName, size, Path.Combine(outDir, $"data-cache-{size}.safetensors"));
        return TrainingData.Synthetic(TrainingData.ParseKind(synthetic!), count, size, syntheticSeed0);
    }

    internal static IReadOnlyDictionary<int, int> Channels(int size, string? text)
    {
        if (text is null) return GeneratorConfig.ReferenceChannels().Where(kv => kv.Key <= size).ToDictionary();
        var table = new Dictionary<int, int>();
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var all))
        {
            for (int r = 4; r <= size; r *= 2) table[r] = all;
            return table;
        }
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split(':');
            if (kv.Length != 2 || !int.TryParse(kv[0], out var res) || !int.TryParse(kv[1], out var ch) || ch < 1)
                throw new ArgumentException($"--channels: '{part}' is not resolution:channels");
            table[res] = ch;
        }
        for (int r = 4; r <= size; r *= 2)
            if (!table.ContainsKey(r)) throw new ArgumentException($"--channels has no entry for resolution {r}");
        return table;
    }

    private static GeneratorConfig GConfig(int size, int styleDim, int nMlp, string? channels) =>
        new(size, styleDim, nMlp, Channels(size, channels));

    private sealed class Observer(CliTask task, string dir) : IStyleGan2TrainingObserver
    {
        private readonly bool _plain = !CliProgress.Interactive;

        public void OnStep(StyleGan2StepStats s) =>
            task.Set(s.Iteration + 1, FormattableString.Invariant($"d {s.D:F3} g {s.G:F3} r1 {s.R1:F3} path {s.Path:F3} real {s.RealScore:F2} fake {s.FakeScore:F2}"));

        public void OnSample(long iteration, Tensor samples)
        {
            using var sheet = Sg2Images.ContactSheet(samples, (int)Math.Ceiling(Math.Sqrt(samples.shape[0])));
            Sg2Images.SavePng(sheet, Path.Combine(dir, "sample", iteration.ToString("D6", CultureInfo.InvariantCulture) + ".png"));
        }

        public void OnMetric(Pipeline.Metrics.MetricRecord r) =>
            AnsiConsole.MarkupLineInterpolated($"[grey]{r.ModelId}[/] {r.Metric}: {(r.Value is { } v ? v.ToString("G4", CultureInfo.InvariantCulture) : r.Status + (r.Reason is null ? "" : " (" + (r.Reason.Length > 80 ? r.Reason[..80] + "…" : r.Reason) + ")"))}");

        public void OnCheckpoint(long iteration, string path)
        {
            TrainingPlots.Save(Path.Combine(dir, "metrics.jsonl"), ["d", "g", "r1", "path", "real_score", "fake_score"], "StyleGAN2 training", Path.Combine(dir, "losses.png"));
            if (_plain) Console.WriteLine($"checkpoint {path}");
        }
    }
}
