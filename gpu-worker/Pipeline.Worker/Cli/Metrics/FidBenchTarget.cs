using Pipeline.Engine;
using System.CommandLine;
using System.Diagnostics;
using Pipeline.Engine.Metrics.Fid;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>
/// `pipeline bench fid`: images/s of FID feature extraction (preprocess + InceptionV3 + float64 statistics).
/// The baseline, measured in the same run, is pytorch-fid's configuration (batch 50, float32); throughput does not
/// depend on weight values, so it runs on initialised weights and prints no FID.
/// </summary>
public sealed class FidBenchTarget : IBenchTarget
{
    public Command Build()
    {
        var device = CliDevice.Option();
        var batches = new Option<int[]>("--batch") { Description = "Batch sizes to measure.", DefaultValueFactory = _ => [50, 200], AllowMultipleArgumentsPerToken = true };
        var size = new Option<int>("--size") { Description = "Input image size (resized to 299 inside).", DefaultValueFactory = _ => 256 };
        var seconds = new Option<double>("--seconds") { Description = "Measuring time per configuration.", DefaultValueFactory = _ => 5 };
        var cmd = new Command("fid", "Images/s of FID feature extraction on CPU or CUDA, against pytorch-fid's batch 50 float32 setup.")
        {
            device, batches, size, seconds,
        };
        cmd.SetAction(parse =>
        {
            var dev = Devices.Parse(parse.GetValue(device)!);
            using var model = new FidInceptionV3();
            model.to(dev).eval();
            var extractor = new FidFeatureExtractor(model, dev);
            int s = parse.GetValue(size);
            var table = new Table().AddColumn("config").AddColumn("images/s").AddColumn("vs baseline");
            double? baseline = null;
            foreach (var b in new[] { 50 }.Concat(parse.GetValue(batches)!.Where(x => x != 50)))
            {
                double ips = Measure(extractor, b, s, dev, parse.GetValue(seconds));
                baseline ??= ips;
                table.AddRow($"batch {b}, float32, {dev}", $"{ips:F1}", $"{ips / baseline.Value:F2}x");
            }
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLine("Targets (DEVELOPERS.md, one H100): PyTorch reference 4122 img/s; ours >= 10000.");
            return 0;
        });
        return cmd;
    }

    private static double Measure(FidFeatureExtractor extractor, int batch, int size, Device dev, double seconds)
    {
        using var scope = NewDisposeScope();
        var images = randint(0, 256, [batch, size, size, 3], dtype: ScalarType.Byte, device: dev);
        using var acc = new GaussianStatsAccumulator(2048);
        for (int i = 0; i < 2; i++) acc.Add(extractor.Features(images)); // warm-up (cuDNN autotune, allocator)
        Sync(dev);
        var sw = Stopwatch.StartNew();
        long n = 0;
        // Time-boxed rather than a median of repeats (BenchTiming): the progress task counts measured seconds.
        CliProgress.Run($"batch {batch}", seconds, task =>
        {
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                using var inner = NewDisposeScope();
                acc.Add(extractor.Features(images));
                n += batch;
                task.Set(Math.Min(sw.Elapsed.TotalSeconds, seconds), string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{n / sw.Elapsed.TotalSeconds:F1} images/s"));
            }
            task.Set(seconds);
        });
        Sync(dev);
        return n / sw.Elapsed.TotalSeconds;
    }

    private static void Sync(Device dev)
    {
        if (dev.type == DeviceType.CUDA) cuda.synchronize();
    }
}
