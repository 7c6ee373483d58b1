using System.CommandLine;
using System.Globalization;
using Pipeline.Engine;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.StyleGan2.Encoder;
using Pipeline.Worker.Cli.Metrics;
using Pipeline.Worker.Cli.StyleGan2;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Training;

/// <summary>`pipeline train encoder`: an image-to-W+ encoder for a fixed StyleGAN2 generator (see EncoderTrainer).</summary>
internal static class TrainEncoderCommand
{
    public static Command Build()
    {
        var generator = new Option<FileInfo>("--generator", "-g") { Description = "StyleGAN2 checkpoint (.pt) the encoder inverts", Required = true };
        var data = new Option<DirectoryInfo?>("--data") { Description = "Optional real images mixed into every batch (aligned like the generator's training data)" };
        var synthetic = new Option<string?>("--synthetic") { Description = "Optional built-in real data instead of --data: faces, faces-anime, landscapes" };
        var count = new Option<int>("--count") { Description = "Number of synthetic real images", DefaultValueFactory = _ => 2000 };
        var syntheticSeed0 = new Option<int>("--synthetic-seed0") { Description = "First seed of the --synthetic images (keep it clear of the images you evaluate on)", DefaultValueFactory = _ => 0 };
        var realFraction = new Option<double>("--real-fraction") { Description = "Share of each batch taken from the real images (when given)", DefaultValueFactory = _ => 0.5 };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 16 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 5e-4 };
        var lrSchedule = new Option<string>("--lr-schedule") { Description = "constant, or cosine (from --lr to 0 at --iter, counted from the start or resume iteration)", DefaultValueFactory = _ => "constant" };
        var latentWeight = new Option<double>("--latent-weight") { Description = "Weight of the W+ supervision on generated images", DefaultValueFactory = _ => 1.0 };
        var meanReg = new Option<double>("--mean-reg") { Description = "Weight of the W+ regulariser toward the mean latent", DefaultValueFactory = _ => 1e-3 };
        var perceptual = new Option<string>("--perceptual") { Description = "auto (LPIPS if its weights are present, else VGG-feature L2 if the VGG16 trunk is, else none), lpips, vgg, none", DefaultValueFactory = _ => "auto" };
        var modelsDir = new Option<string?>("--models-dir") { Description = "Feature-network cache (default $PIPELINE_MODELS or ~/.cache/pipeline/models)" };
        var iter = new Option<long>("--iter") { DefaultValueFactory = _ => 100_000 };
        var maxMinutes = new Option<double?>("--max-minutes") { Description = "Stop (with a checkpoint) after this much wall-clock time" };
        var ckptEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 500 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 0 };
        var resume = new Option<FileInfo?>("--resume") { Description = "Continue from this encoder.pt (weights and iteration count; a fresh optimiser, so loss weights may change between phases)" };
        var outDir = Sg2Cli.OutDir("training/encoder");
        var device = CliDevice.Option();
        var cmd = new Command("encoder", "Train an image-to-W+ encoder (pSp/e4e-style) for a StyleGAN2 generator; writes encoder.pt, metrics.jsonl, recon.png.")
        {
            generator, data, synthetic, count, syntheticSeed0, realFraction, batch, lr, lrSchedule, latentWeight, meanReg, perceptual, modelsDir, iter, maxMinutes, ckptEvery, seed, resume, outDir, device,
        };
        cmd.SetAction(async (p, ct) =>
        {
            IPerceptualLoss? loss;
            string lossName;
            try { (loss, lossName) = await LoadPerceptualAsync(p.GetValue(perceptual)!, p.GetValue(modelsDir), ct); }
            catch (WeightsMissingException e) { return MetricsCli.Skipped(e); }
            return Sg2Cli.Run(() =>
            {
                var dev = Devices.Parse(p.GetValue(device)!);
                if (loss is nn.Module m) m.to(dev);
                var (g, _) = Sg2Cli.LoadGenerator(p.GetValue(generator)!, dev);
                g.SetFusedModulation(false); // same values; the shared-kernel path backpropagates faster in a batch
                var dir = p.GetValue(outDir)!.FullName;
                Directory.CreateDirectory(dir);
                using var dataset = p.GetValue(data) is null && p.GetValue(synthetic) is null ? null
                    : TrainStyleGan2Command.LoadData(p.GetValue(data), p.GetValue(synthetic), p.GetValue(count), Math.Min(g.Config.Size, 256), dir, p.GetValue(syntheticSeed0));
                StyleEncoder? start = null;
                long startIteration = 0;
                if (p.GetValue(resume) is { } resumeFile) (start, startIteration) = EncoderCheckpoint.Load(resumeFile.FullName, dev);
                long total = p.GetValue(iter);
                var options = new EncoderTrainOptions
                {
                    Batch = p.GetValue(batch), Lr = p.GetValue(lr), LatentWeight = p.GetValue(latentWeight),
                    MeanRegWeight = p.GetValue(meanReg), Seed = p.GetValue(seed), RealFraction = p.GetValue(realFraction),
                    LrDecaySteps = p.GetValue(lrSchedule) switch
                    {
                        "constant" => null,
                        "cosine" => total > startIteration ? total - startIteration
                            : throw new ArgumentException($"--lr-schedule cosine: --iter {total} is not past the start iteration {startIteration}"),
                        var other => throw new ArgumentException($"--lr-schedule: '{other}' is not constant or cosine"),
                    },
                };
                using var trainer = new EncoderTrainer(g, start, options, loss, dev) { Iteration = startIteration };
                AnsiConsole.MarkupLineInterpolated($"encoder {trainer.Encoder.parameters().Sum(x => x.numel()):N0} parameters, perceptual: {lossName}, real images: {dataset?.Count ?? 0}");
                var args = new Dictionary<string, object?>
                {
                    ["generator"] = p.GetValue(generator)!.Name, ["batch"] = (long)options.Batch, ["lr"] = options.Lr,
                    ["lr_schedule"] = p.GetValue(lrSchedule), ["lr_decay_steps"] = options.LrDecaySteps,
                    ["latent_weight"] = options.LatentWeight, ["mean_reg"] = options.MeanRegWeight, ["perceptual"] = lossName,
                    ["truncation_min"] = options.TruncationMin, ["mixing"] = options.Mixing, ["seed"] = options.Seed,
                    ["real_images"] = (long)(dataset?.Count ?? 0), ["real_fraction"] = options.RealFraction,
                    ["real_source"] = p.GetValue(synthetic) is { } kind ? $"synthetic {kind}, seeds {p.GetValue(syntheticSeed0)}+" : p.GetValue(data)?.Name,
                };
                if (p.GetValue(resume) is { } from) { args["resumed_from"] = from.Name; args["resumed_at"] = startIteration; }
                var ckptPath = Path.Combine(dir, "encoder.pt");
                var clock = System.Diagnostics.Stopwatch.StartNew();
                var maxTime = p.GetValue(maxMinutes) is { } mm ? TimeSpan.FromMinutes(mm) : TimeSpan.MaxValue;
                var random = new Random(unchecked((int)options.Seed));
                int nReal = dataset is null ? 0 : (int)Math.Round(options.Batch * options.RealFraction);
                EncoderStepStats last = default;
                using var log = new StreamWriter(Path.Combine(dir, "metrics.jsonl"), append: false);
                CliProgress.Run("training encoder", total, task =>
                {
                    task.ResumeFrom(trainer.Iteration);
                    while (trainer.Iteration < total && clock.Elapsed < maxTime)
                    {
                        ct.ThrowIfCancellationRequested();
                        using var scope = NewDisposeScope();
                        var real = dataset is null ? null
                            : dataset.Batch(Enumerable.Range(0, nReal).Select(_ => random.NextInt64(dataset.Count)).ToArray(), random, device: dev);
                        double stepLr = trainer.LearningRate;
                        last = trainer.Step(real);
                        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{{\"iter\":{last.Iteration},\"seconds\":{clock.Elapsed.TotalSeconds:F1},\"loss\":{last.Loss:G6},\"mse\":{last.Mse:G6},\"perceptual\":{last.Perceptual:G6},\"latent\":{last.Latent:G6},\"mean_reg\":{last.MeanReg:G6},\"lr\":{stepLr:G6}}}"));
                        task.Set(trainer.Iteration, string.Create(CultureInfo.InvariantCulture, $"loss {last.Loss:F4} mse {last.Mse:F4} latent {last.Latent:F4}"));
                        if (trainer.Iteration % p.GetValue(ckptEvery) == 0) Checkpoint();
                    }
                });
                Checkpoint();
                log.Dispose();
                // Pixel MSE alone: the latent term is ~100x larger and would flatten it on a shared axis.
                TrainingPlots.Save(Path.Combine(dir, "metrics.jsonl"), ["mse"], "Encoder training: pixel MSE", Path.Combine(dir, "losses.png"));
                AnsiConsole.MarkupLineInterpolated($"[green]done[/] at iteration {trainer.Iteration} after {clock.Elapsed.TotalMinutes:F1} min: loss {last.Loss:F4}, mse {last.Mse:F4}, latent {last.Latent:F4}; {ckptPath}, recon.png, losses.png, metrics.jsonl");
                return 0;

                void Checkpoint()
                {
                    log.Flush();
                    args["minutes"] = clock.Elapsed.TotalMinutes;
                    EncoderCheckpoint.Save(ckptPath, trainer.Encoder, trainer.Iteration, args);
                    SaveRecon(trainer, Path.Combine(dir, "recon.png"));
                }
            });
        });
        return cmd;
    }

    /// <summary>Eight generated images (top row) and their encoder reconstructions (bottom row), a quick visual check.</summary>
    private static void SaveRecon(EncoderTrainer trainer, string path)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        trainer.Encoder.eval();
        var x = trainer.Render(trainer.SampleCodes(8));
        var recon = trainer.G.Forward([trainer.Encoder.forward(x)], new Pipeline.Engine.StyleGan2.GenerateOptions { InputIsLatent = true }).Image;
        using var sheet = Sg2Images.ContactSheet(cat([x, recon], 0), 8);
        Sg2Images.SavePng(sheet, path);
        trainer.Encoder.train();
    }

    /// <summary>The perceptual term: LPIPS, or VGG-feature L2 from the bare VGG16 trunk, or none (pixel MSE only).</summary>
    internal static async Task<(IPerceptualLoss? Loss, string Name)> LoadPerceptualAsync(string mode, string? modelsDir, CancellationToken ct)
    {
        var store = MetricsCli.Store(modelsDir);
        bool lpips = store.Find(FeatureNetworks.Vgg16) is not null && store.Find(FeatureNetworks.LpipsVggHeads) is not null;
        bool vgg = store.Find(FeatureNetworks.Vgg16) is not null;
        switch (mode)
        {
            case "none": return (null, "none");
            case "lpips": return ((await store.LoadLpipsVggAsync(ct)).Model, "lpips-vgg");
            case "vgg": return (new VggFeatureDistance(StateDictFiles.Load(await store.RequireAsync(FeatureNetworks.Vgg16, ct))), "vgg16-feature-l2");
            case "auto":
                if (lpips) return ((await store.LoadLpipsVggAsync(ct)).Model, "lpips-vgg");
                if (vgg) return (new VggFeatureDistance(StateDictFiles.Load(await store.RequireAsync(FeatureNetworks.Vgg16, ct))), "vgg16-feature-l2");
                return (null, "none (no LPIPS/VGG16 weights found)");
            default: throw new ArgumentException($"--perceptual: '{mode}' is not auto, lpips, vgg or none");
        }
    }
}
