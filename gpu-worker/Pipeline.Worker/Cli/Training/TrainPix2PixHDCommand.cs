using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Pipeline.Engine;
using Pipeline.Engine.Pix2PixHD;
using Pipeline.Engine.Training;
using Pipeline.Imaging.Synthetic;
using Pipeline.Worker.Cli.StyleGan2;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Training;

/// <summary>
/// `pipeline train pix2pixhd`: pix2pixHD's train.py (global generator, multiscale LSGAN discriminator, feature matching,
/// VGG loss when VGG19 weights are given) on the built-in synthetic landscapes and their label maps. Writes a model folder
/// as the reference does (latest_net_G.pth, latest_net_D.pth, opt.txt, iter.txt) that `pipeline label2img --model` and
/// the label-map jobs load.
/// </summary>
internal static class TrainPix2PixHDCommand
{
    public static Command Build()
    {
        var count = new Option<int>("--count") { Description = "Synthetic landscapes (one epoch = this many iterations / batch)", DefaultValueFactory = _ => 1000 };
        var size = new Option<int>("--size") { Description = "Training size in pixels (loadSize = fineSize; a multiple of 2^n_downsample_global)", DefaultValueFactory = _ => 64 };
        var ngf = new Option<int>("--ngf") { DefaultValueFactory = _ => 16 };
        var nDown = new Option<int>("--n-downsample-global") { DefaultValueFactory = _ => 3 };
        var nBlocks = new Option<int>("--n-blocks-global") { DefaultValueFactory = _ => 4 };
        var ndf = new Option<int>("--ndf") { DefaultValueFactory = _ => 32 };
        var nLayersD = new Option<int>("--n-layers-d") { DefaultValueFactory = _ => 3 };
        var numD = new Option<int>("--num-d") { DefaultValueFactory = _ => 2 };
        var batch = new Option<int>("--batch") { Description = "batchSize (the reference's default is 1)", DefaultValueFactory = _ => 1 };
        var niter = new Option<int>("--niter") { Description = "Epochs at the initial learning rate", DefaultValueFactory = _ => 100 };
        var niterDecay = new Option<int>("--niter-decay") { Description = "Epochs of linear decay to 0 after niter", DefaultValueFactory = _ => 100 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 0.0002 };
        var iter = new Option<long?>("--iter") { Description = "Stop after this many iterations (default: (niter + niter_decay) epochs)" };
        var maxMinutes = new Option<double?>("--max-minutes") { Description = "Stop (with a checkpoint) after this much wall-clock time" };
        var vgg = new Option<FileInfo?>("--vgg") { Description = "torchvision VGG19 weights (vgg19-dcbb9e9d.pth) for the VGG feature loss; without them the loss is off (--no_vgg_loss)" };
        var saveEvery = new Option<int>("--save-latest-freq") { Description = "Iterations between latest_net_* checkpoints (save_latest_freq)", DefaultValueFactory = _ => 1000 };
        var imageEvery = new Option<int>("--image-every") { Description = "Iterations between sample sheets in images/", DefaultValueFactory = _ => 500 };
        var logEvery = new Option<int>("--log-every") { Description = "Iterations between metrics.jsonl records", DefaultValueFactory = _ => 10 };
        var seed = new Option<long>("--seed") { DefaultValueFactory = _ => 1 };
        var evaluate = new Option<DirectoryInfo?>("--evaluate") { Description = "Train nothing: score this model folder (and a fresh initialisation of its shape, --seed) on held-out landscapes" };
        var outDir = Sg2Cli.OutDir("training/pix2pixhd");
        var device = CliDevice.Option();
        var cmd = new Command("pix2pixhd", "Train a pix2pixHD label-map -> photo generator on the synthetic landscapes (LSGAN multiscale D, feature matching, VGG loss when weights are given).")
        {
            count, size, ngf, nDown, nBlocks, ndf, nLayersD, numD, batch, niter, niterDecay, lr, iter, maxMinutes, vgg, saveEvery, imageEvery, logEvery, seed, evaluate, outDir, device,
        };
        cmd.SetAction((p, ct) => Task.FromResult(Sg2Cli.Run(() =>
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            if (p.GetValue(evaluate) is { } modelDir) return EvaluateFolder(modelDir.FullName, p.GetValue(seed), dev);
            var dir = p.GetValue(outDir)!.FullName;
            Directory.CreateDirectory(dir);
            int s = p.GetValue(size), bs = Math.Max(1, p.GetValue(batch)), n = p.GetValue(count);
            if (s % (1 << p.GetValue(nDown)) != 0) throw new ArgumentException($"--size {s} is not a multiple of 2^{p.GetValue(nDown)}");
            var vggFile = p.GetValue(vgg);
            Vgg19? vggNet = null;
            if (vggFile is not null && vggFile.Exists)
            {
                vggNet = new Vgg19();
                vggNet.LoadTorchvision(Networks.LoadStateDict(vggFile.FullName));
            }
            else
                AnsiConsole.MarkupLineInterpolated($"[yellow]VGG19 weights {(vggFile is null ? "not given (--vgg)" : $"not found at {vggFile.FullName}")}: the VGG feature loss is OFF (no_vgg_loss True in opt.txt); G trains on the GAN and feature-matching losses only[/]");
            // scale_width at loadSize = the training size: the model rescales other label maps to the width it learnt.
            var o = new Pix2PixHDOptions
            {
                LabelNc = SyntheticLandscapes.Labels.Count, NoInstance = true, Ngf = p.GetValue(ngf), NDownsampleGlobal = p.GetValue(nDown),
                NBlocksGlobal = p.GetValue(nBlocks), Ndf = p.GetValue(ndf), NLayersD = p.GetValue(nLayersD), NumD = p.GetValue(numD),
                NoVggLoss = vggNet is null, ResizeOrCrop = "scale_width", LoadSize = s, FineSize = s,
            };
            int perEpoch = Math.Max(1, n / bs);
            long total = p.GetValue(iter) ?? (long)(p.GetValue(niter) + p.GetValue(niterDecay)) * perEpoch;
            File.WriteAllText(Path.Combine(dir, "opt.txt"), OptionsParser.ToOptTxt(o, new Dictionary<string, string>
            {
                ["name"] = Path.GetFileName(dir), ["batchSize"] = bs.ToString(CultureInfo.InvariantCulture), ["lr"] = p.GetValue(lr).ToString(CultureInfo.InvariantCulture),
                ["beta1"] = "0.5", ["niter"] = p.GetValue(niter).ToString(CultureInfo.InvariantCulture), ["niter_decay"] = p.GetValue(niterDecay).ToString(CultureInfo.InvariantCulture),
                ["dataroot"] = "synthetic:landscapes", ["max_dataset_size"] = n.ToString(CultureInfo.InvariantCulture), ["no_flip"] = "False",
                ["save_latest_freq"] = p.GetValue(saveEvery).ToString(CultureInfo.InvariantCulture), ["pool_size"] = "0", ["isTrain"] = "True",
            }));

            var (labels, images) = DrawData(n, s);
            using var _data = labels;
            using var _images = images;
            using var trainer = new Trainer(o, p.GetValue(seed), dev, vggNet, p.GetValue(lr));
            AnsiConsole.MarkupLineInterpolated($"pix2pixHD {s} px, label_nc {o.LabelNc}, G {trainer.NetG.parameters().Sum(x => x.numel()):N0} / D {trainer.NetD.parameters().Sum(x => x.numel()):N0} parameters, {n} landscapes, batch {bs}, {total} iterations on {dev.type}");
            var initScore = Evaluate(trainer.Sample, s);
            AnsiConsole.MarkupLineInterpolated($"held-out score at initialisation: {initScore}");
            using var log = new MetricLog(Path.Combine(dir, "metrics.jsonl"));
            var rng = new Random((int)p.GetValue(seed));
            using var sampleLabels = labels[..Math.Min(8, n)].clone();
            var limit = p.GetValue(maxMinutes) is { } m ? TimeSpan.FromMinutes(m) : (TimeSpan?)null;
            var clock = Stopwatch.StartNew();
            var order = Enumerable.Range(0, n).ToArray();
            int cursor = n, epoch = 1;
            TrainStepStats? last = null;
            CliProgress.Run("training", total, task =>
            {
                while (trainer.Iteration < total && !ct.IsCancellationRequested && (limit is null || clock.Elapsed < limit))
                {
                    if (cursor + bs > n)
                    {
                        // A new epoch: serial_batches off, so the data loader reshuffles.
                        if (cursor != n || trainer.Iteration > 0)
                        {
                            if (epoch > p.GetValue(niter)) trainer.DecayLearningRate(p.GetValue(niterDecay));
                            epoch++;
                        }
                        rng.Shuffle(order);
                        cursor = 0;
                    }
                    using (var scope = NewDisposeScope())
                    {
                        var idx = tensor(order[cursor..(cursor + bs)].Select(i => (long)i).ToArray());
                        cursor += bs;
                        var label = labels.index_select(0, idx);
                        var image = images.index_select(0, idx).to(float32) / 127.5 - 1;
                        // no_flip off: the reference flips each item horizontally with probability 0.5.
                        if (rng.NextDouble() < 0.5) { label = label.flip(3); image = image.flip(3); }
                        last = trainer.Step(label, image);
                    }
                    long it = trainer.Iteration;
                    task.Set(it, FormattableString.Invariant($"G_GAN {last.GGan:F3} G_GAN_Feat {last.GGanFeat ?? 0:F3} D_real {last.DReal:F3} D_fake {last.DFake:F3}"));
                    if (it % p.GetValue(logEvery) == 0 || it == 1)
                        log.Write(Record(last, epoch, clock.Elapsed.TotalSeconds));
                    if (it % p.GetValue(imageEvery) == 0) SaveSamples(trainer, sampleLabels, images, dir, it);
                    if (it % p.GetValue(saveEvery) == 0) Save(trainer, dir, epoch);
                }
            });
            Save(trainer, dir, epoch);
            SaveSamples(trainer, sampleLabels, images, dir, trainer.Iteration);
            var score = Evaluate(trainer.Sample, s);
            File.WriteAllText(Path.Combine(dir, "eval.json"), System.Text.Json.JsonSerializer.Serialize(new { iteration = trainer.Iteration, minutes = Math.Round(clock.Elapsed.TotalMinutes, 1), initialisation = initScore, trained = score }));
            AnsiConsole.MarkupLineInterpolated($"held-out score after {trainer.Iteration} iterations: {score} (initialisation: {initScore}); eval.json");
            log.Dispose();
            TrainingPlots.Save(Path.Combine(dir, "metrics.jsonl"), ["G_GAN", "G_GAN_Feat", "G_VGG", "D_real", "D_fake"], "pix2pixHD training", Path.Combine(dir, "losses.png"));
            AnsiConsole.MarkupLineInterpolated($"[green]done[/] at iteration {trainer.Iteration} (epoch {epoch}, {clock.Elapsed.TotalMinutes:F1} min): {dir}/latest_net_G.pth + opt.txt (pipeline label2img --model {dir}), images/, losses.png, metrics.jsonl");
            return 0;
        })));
        return cmd;
    }

    /// <summary>
    /// How close G's images are to the real landscapes of held-out maps (seeds 100,000+, never trained on), in 8-bit
    /// levels: <see cref="ClassColour"/> = mean over (image, class present) of |mean generated colour − mean real colour|
    /// (averaged over RGB), which says whether each class gets its colour; <see cref="PixelL1"/> = mean |generated − real|.
    /// </summary>
    internal sealed record HeldOutScore(double ClassColour, double PixelL1, int Images)
    {
        public override string ToString() => FormattableString.Invariant($"class-colour error {ClassColour:F1} levels, pixel L1 {PixelL1:F1} levels ({Images} held-out maps)");
    }

    internal static HeldOutScore Evaluate(Func<Tensor, Tensor> generate, int size, int count = 50, int seed0 = 100_000)
    {
        double colour = 0, l1 = 0;
        int pairsCounted = 0;
        for (int i = 0; i < count; i++)
        {
            using var scope = NewDisposeScope();
            var (rgb, lab) = TrainingData.DrawLandscapePair(seed0 + i, size);
            var label = tensor(lab, [1, 1, size, size], ScalarType.Byte);
            var real = tensor(rgb, [size, size, 3], ScalarType.Byte).permute(2, 0, 1).to(float32);
            var fake = ((generate(label).cpu()[0].clamp(-1, 1) + 1) * 127.5);
            l1 += (fake - real).abs().mean().item<float>();
            var ids = label[0, 0].to(int64);
            foreach (var id in lab.Distinct())
            {
                var mask = ids.eq(id).to(float32);
                var n = mask.sum();
                var diff = ((fake * mask).sum([1, 2]) / n - (real * mask).sum([1, 2]) / n).abs().mean();
                colour += diff.item<float>();
                pairsCounted++;
            }
        }
        return new HeldOutScore(colour / pairsCounted, l1 / count, count);
    }

    /// <summary>--evaluate: a trained folder against a fresh initialisation of the same shape (the same seed trains from it).</summary>
    private static int EvaluateFolder(string modelDir, long seed, Device dev)
    {
        using var t = Translator.Load(modelDir, device: dev);
        var o = t.Options;
        using var fresh = new Trainer(o with { NoVggLoss = true }, seed, dev);
        int size = o.LoadSize;
        var trained = Evaluate(label => t.Generate(label, null), size);
        var init = Evaluate(fresh.Sample, size);
        AnsiConsole.MarkupLineInterpolated($"{modelDir}: {trained}");
        AnsiConsole.MarkupLineInterpolated($"fresh initialisation (seed {seed}): {init}");
        return 0;
    }

    private static Dictionary<string, object?> Record(TrainStepStats s, int epoch, double seconds)
    {
        var r = new Dictionary<string, object?> { ["iter"] = s.Iteration + 1, ["epoch"] = epoch, ["seconds"] = Math.Round(seconds, 1), ["G_GAN"] = s.GGan, ["D_real"] = s.DReal, ["D_fake"] = s.DFake, ["loss_G"] = s.LossG, ["loss_D"] = s.LossD, ["lr"] = s.Lr };
        if (s.GGanFeat is { } f) r["G_GAN_Feat"] = f;
        if (s.GVgg is { } v) r["G_VGG"] = v;
        return r;
    }

    /// <summary>latest_net_G/D.pth and iter.txt ("epoch,iteration"), as the reference's save_latest_freq writes them.</summary>
    private static void Save(Trainer trainer, string dir, int epoch)
    {
        trainer.Save(dir);
        File.WriteAllText(Path.Combine(dir, "iter.txt"), FormattableString.Invariant($"{epoch},{trainer.Iteration}"));
    }

    /// <summary>Sheet of label colours | generated | real for the first landscapes (rows of three).</summary>
    private static void SaveSamples(Trainer trainer, Tensor labels, Tensor images, string dir, long it)
    {
        using var scope = NewDisposeScope();
        var fake = trainer.Sample(labels);
        long k = labels.shape[0];
        var real = images[..(int)k].to(float32) / 127.5 - 1;
        var colours = Palette()[labels.squeeze(1).to(int64)].permute(0, 3, 1, 2);
        var tiles = stack([colours, fake, real], 1).reshape(k * 3, 3, labels.shape[2], labels.shape[3]);
        Sg2Images.SavePng(Sg2Images.ContactSheet(tiles, 3), Path.Combine(dir, "images", it.ToString("D8", CultureInfo.InvariantCulture) + ".png"));
    }

    /// <summary>A display colour per landscape class (sky, sun, mountain, water, grass, tree) in [-1, 1].</summary>
    private static Tensor Palette() => tensor(new float[]
    {
        135, 190, 235, 255, 220, 80, 120, 110, 130, 40, 90, 200, 90, 170, 60, 20, 80, 30,
    }, [6, 3]) / 127.5f - 1;

    /// <summary>Label ids [N,1,S,S] (uint8) and photos [N,3,S,S] (uint8) of landscapes 0..N-1.</summary>
    private static (Tensor Labels, Tensor Images) DrawData(int n, int s)
    {
        var pairs = new (byte[] Rgb, byte[] Labels)[n];
        CliProgress.Run($"drawing {n} landscapes + label maps", n, task =>
            Parallel.For(0, n, i => { pairs[i] = TrainingData.DrawLandscapePair(i, s); task.Increment(1); }));
        var lab = new byte[n * s * s];
        var rgb = new byte[n * s * s * 3];
        for (int i = 0; i < n; i++)
        {
            pairs[i].Labels.CopyTo(lab, i * s * s);
            pairs[i].Rgb.CopyTo(rgb, i * s * s * 3);
        }
        return (tensor(lab, [n, 1, s, s], ScalarType.Byte), tensor(rgb, [n, s, s, 3], ScalarType.Byte).permute(0, 3, 1, 2).contiguous());
    }
}
