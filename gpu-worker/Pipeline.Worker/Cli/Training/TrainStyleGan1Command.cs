using System.CommandLine;
using System.Globalization;
using Pipeline.Engine;
using Pipeline.Engine.StyleGan1;
using Pipeline.Engine.Training;
using Pipeline.Engine.Training.StyleGan1;
using Pipeline.Worker.Cli.StyleGan2;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Training;

/// <summary>`pipeline train stylegan1`: rosinality style-based-gan-pytorch train.py (progressive growing, WGAN-GP or R1, mixing, EMA).</summary>
internal static class TrainStyleGan1Command
{
    public static Command Build()
    {
        var data = new Option<DirectoryInfo?>("--data") { Description = "Image folder (resized and centre-cropped per resolution, cached as tensors)" };
        var synthetic = new Option<string?>("--synthetic") { Description = "Built-in data instead of --data: paintings, faces (photo-like), faces-anime, landscapes" };
        var count = new Option<int>("--count") { Description = "Number of synthetic images", DefaultValueFactory = _ => 2000 };
        var initSize = new Option<int>("--init-size") { Description = "First resolution (train.py --init_size)", DefaultValueFactory = _ => 8 };
        var maxSize = new Option<int>("--max-size") { Description = "Last resolution (train.py --max_size)", DefaultValueFactory = _ => 1024 };
        var phase = new Option<long>("--phase") { Description = "Real images per half-phase: fade-in, then as many stable (train.py --phase)", DefaultValueFactory = _ => 600_000 };
        var channels = new Option<string?>("--channels") { Description = "Generator channels per level from 4 px up, e.g. 64,64,32,32 (D mirrors them); default the reference's 512,...,16 up to --max-size" };
        var codeDim = new Option<int>("--code-dim") { Description = "code_dim (reference 512)", DefaultValueFactory = _ => 512 };
        var nMlp = new Option<int>("--n-mlp") { Description = "Mapping network depth (reference 8)", DefaultValueFactory = _ => 8 };
        var loss = new Option<string>("--loss") { Description = "wgan-gp (train.py default) or r1", DefaultValueFactory = _ => "wgan-gp" };
        var mixing = new Option<bool>("--mixing") { Description = "Mixing regularisation: two codes and a random crossover in 90% of generator calls" };
        var sched = new Option<bool>("--sched") { Description = "train.py --sched: learning rate and batch tables per resolution" };
        var batch = new Option<string?>("--batch") { Description = "Batch: one number, or resolution:batch pairs such as 8:64,16:32,32:16; default train.py's (32, or the --sched table)" };
        var iter = new Option<long>("--iter") { Description = "Iterations (train.py: 3,000,000)", DefaultValueFactory = _ => 3_000_000 };
        var maxMinutes = new Option<double?>("--max-minutes") { Description = "Stop (with a checkpoint) after this much wall-clock time" };
        var sampleEvery = new Option<int>("--sample-every") { DefaultValueFactory = _ => 100 };
        var ckptEvery = new Option<int>("--checkpoint-every") { Description = "Bare g_running file every N iterations (0: none)", DefaultValueFactory = _ => 10_000 };
        var nSample = new Option<int>("--n-sample") { DefaultValueFactory = _ => 16 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var outDir = Sg2Cli.OutDir("training/stylegan1");
        var device = CliDevice.Option();
        var cmd = new Command("stylegan1", "Train a StyleGAN v1 (rosinality style-based-gan-pytorch train.py: progressive growing with fade-in, WGAN-GP or R1, mixing, EMA); writes train.py's 5-key checkpoints.")
        {
            data, synthetic, count, initSize, maxSize, phase, channels, codeDim, nMlp, loss, mixing, sched, batch, iter, maxMinutes,
            sampleEvery, ckptEvery, nSample, seed, outDir, device,
        };
        cmd.SetAction((p, ct) => Task.FromResult(Sg2Cli.Run(() =>
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            int max = p.GetValue(maxSize);
            var dir = p.GetValue(outDir)!.FullName;
            Directory.CreateDirectory(dir);
            long seedValue = p.GetValue(seed);
            manual_seed(seedValue);
            var (gConfig, dConfig) = Configs(max, p.GetValue(codeDim), p.GetValue(nMlp), p.GetValue(channels));
            var (generator, discriminator, running) = StyleGan1TrainingLoop.Create(gConfig, dConfig, dev);
            using var g = generator;
            using var d = discriminator;
            using var r = running;
            var options = new StyleGan1TrainOptions { Loss = p.GetValue(loss)!, Mixing = p.GetValue(mixing) };
            using var trainer = new StyleGan1Trainer(g, r, d, options, new Random(unchecked((int)seedValue) ^ 0x5eed));
            var (folder, kind, n) = (p.GetValue(data), p.GetValue(synthetic), p.GetValue(count));
            if ((folder is null) == (kind is null)) throw new ArgumentException("give exactly one of --data <folder> and --synthetic <kind>");
            var loop = new StyleGan1LoopOptions
            {
                InitSize = p.GetValue(initSize), MaxSize = max, Phase = p.GetValue(phase),
                LrFor = StyleGan1TrainingLoop.ReferenceLr(p.GetValue(sched)),
                BatchFor = BatchTable(p.GetValue(batch), StyleGan1TrainingLoop.ReferenceBatch(p.GetValue(sched))),
                Iterations = p.GetValue(iter), MaxTime = p.GetValue(maxMinutes) is { } m ? TimeSpan.FromMinutes(m) : null,
                OutDir = dir, SampleEvery = p.GetValue(sampleEvery), CheckpointEvery = p.GetValue(ckptEvery), NSample = p.GetValue(nSample), Seed = seedValue,
            };
            AnsiConsole.MarkupLineInterpolated($"StyleGAN v1 {loop.InitSize} -> {max} px, channels {string.Join(",", gConfig.Channels)}, {g.parameters().Sum(x => x.numel()):N0} G / {d.parameters().Sum(x => x.numel()):N0} D parameters, phase {loop.Phase:N0} images, loss {options.Loss}{(options.Mixing ? ", mixing" : "")}");
            // One dataset per resolution, as train.py reads a per-size lmdb: the synthetic images are drawn at that size.
            ImageTensorDataset DataFor(int size) => folder is not null
                ? TrainingData.Folder(folder.FullName, size, Path.Combine(dir, $"data-cache-{size}.safetensors"))
                : TrainingData.Synthetic(TrainingData.ParseKind(kind!), n, size);
            string last = "";
            CliProgress.Run("training", loop.Iterations, task =>
            {
                last = StyleGan1TrainingLoop.Run(g, d, r, trainer, DataFor, loop, new Observer(task, dir), ct);
            });
            TrainingPlots.Save(Path.Combine(dir, "metrics.jsonl"), ["d", "g", "gp", "real_score", "fake_score"], "StyleGAN v1 training", Path.Combine(dir, "losses.png"));
            AnsiConsole.MarkupLineInterpolated($"[green]done[/]: {last} (generator, discriminator, g_optimizer, d_optimizer, g_running); samples in {Path.Combine(dir, "sample")}, losses.png, metrics.jsonl");
            return 0;
        })));
        return cmd;
    }

    /// <summary>
    /// Networks up to <paramref name="maxSize"/>: the reference's channel table cut at that size unless given. Fused
    /// up/downsampling only where the reference has it (128 px and up), so a small network matches the reference's
    /// lower levels; D's blocks mirror G's levels (block 0 reads the largest resolution).
    /// </summary>
    internal static (StyleGan1GeneratorConfig G, StyleGan1DiscriminatorConfig D) Configs(int maxSize, int codeDim, int nMlp, string? channels)
    {
        int levels = (int)Math.Log2(maxSize) - 1;
        if (levels < 1 || 4 << (levels - 1) != maxSize) throw new ArgumentException($"--max-size {maxSize} is not a power of two >= 4");
        var reference = new StyleGan1GeneratorConfig();
        List<int> ch = channels is null
            ? reference.Channels.Take(levels).ToList()
            : channels.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        if (ch.Count != levels) throw new ArgumentException($"--channels needs {levels} values (4 px to {maxSize} px), got {ch.Count}");
        var fusedG = reference.FusedLevels.Where(l => l < levels).ToHashSet();
        var g = new StyleGan1GeneratorConfig { CodeDim = codeDim, NMlp = nMlp, Channels = ch, FusedLevels = fusedG };
        // D block j works at the resolution of G level (levels - 1 - j) and outputs that level's lower neighbour's width.
        var fromRgb = Enumerable.Range(0, levels).Select(j => ch[levels - 1 - j]).ToList();
        var fusedD = Enumerable.Range(0, levels).Where(j => fusedG.Contains(levels - 1 - j)).ToHashSet();
        return (g, new StyleGan1DiscriminatorConfig { FromRgbChannels = fromRgb, FusedBlocks = fusedD, FromRgbActivate = true });
    }

    /// <summary>--batch: "16" everywhere, or "8:64,16:32" with <paramref name="fallback"/> for unlisted resolutions.</summary>
    internal static Func<int, int> BatchTable(string? text, Func<int, int> fallback)
    {
        if (text is null) return fallback;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var all)) return _ => all;
        var table = new Dictionary<int, int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split(':');
            if (kv.Length != 2 || !int.TryParse(kv[0], out var res) || !int.TryParse(kv[1], out var b) || b < 1)
                throw new ArgumentException($"--batch: '{part}' is not resolution:batch");
            table[res] = b;
        }
        return res => table.TryGetValue(res, out var b) ? b : fallback(res);
    }

    private sealed class Observer(CliTask task, string dir) : IStyleGan1TrainingObserver
    {
        private readonly bool _plain = !CliProgress.Interactive;

        public void OnStep(StyleGan1StepStats s) =>
            task.Set(s.Iteration + 1, FormattableString.Invariant($"{s.Resolution}px a {s.Alpha:F2} d {s.D:F3} g {s.G:F3} gp {s.GradPenalty:F3} real {s.RealScore:F2} fake {s.FakeScore:F2}"));

        public void OnSample(long iteration, int resolution, Tensor samples)
        {
            using var sheet = Sg2Images.ContactSheet(samples, (int)Math.Ceiling(Math.Sqrt(samples.shape[0])));
            Sg2Images.SavePng(sheet, Path.Combine(dir, "sample", $"{iteration.ToString("D6", CultureInfo.InvariantCulture)}-{resolution}px.png"));
        }

        public void OnCheckpoint(long iteration, string path)
        {
            if (_plain) Console.WriteLine($"checkpoint {path}");
        }

        public void OnPhase(long iteration, int step, int resolution)
        {
            if (_plain) Console.WriteLine($"iteration {iteration}: step {step}, {resolution} px");
        }
    }
}
