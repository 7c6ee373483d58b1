using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.StyleGan2;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>Shared bench plumbing: model source (checkpoint or synthetic config), warm-up + median timing.</summary>
internal static class Sg2Bench
{
    public static Option<FileInfo?> Checkpoint() => new("--ckpt", "-c") { Description = "Checkpoint to benchmark (default: a synthetic reference config with random weights)" };
    public static Option<int> Synthetic() => new("--size") { Description = "Synthetic generator size (reference channels, cm 2, style_dim 512, n_mlp 8)", DefaultValueFactory = _ => 256 };
    public static Option<int> Warmup() => new("--warmup") { Description = "Untimed warm-up runs", DefaultValueFactory = _ => 2 };
    public static Option<int> Repeats() => new("--repeats") { Description = "Timed runs (the median is reported)", DefaultValueFactory = _ => 5 };

    public static Engine.StyleGan2.Generator Model(FileInfo? ckpt, int size, Device device)
    {
        if (ckpt is not null) return Sg2Cli.LoadGenerator(ckpt, device).G;
        manual_seed(0);
        var g = new Engine.StyleGan2.Generator(GeneratorConfig.Reference(size));
        g.eval();
        g.to(device);
        AnsiConsole.MarkupLineInterpolated($"[grey]synthetic generator {size} px (reference channels, cm 2), random weights, device {device}[/]");
        return g;
    }

    /// <summary>Median wall time in ms of <paramref name="run"/>; each run ends with a host read so GPU work is included.</summary>
    public static double MedianMs(string name, Func<Tensor> run, int warmup, int repeats) =>
        BenchTiming.Median(name, () => Sync(run), warmup, repeats).TotalMilliseconds;

    private static void Sync(Func<Tensor> run)
    {
        using var scope = NewDisposeScope();
        _ = run().sum().to(ScalarType.Float32).item<float>();
    }
}

/// <summary>`pipeline bench generate`: images/s of the generator, grouped-conv (reference) vs shared-kernel modulated convs.</summary>
public sealed class GenerateBenchTarget : IBenchTarget
{
    public Command Build()
    {
        var ckpt = Sg2Bench.Checkpoint();
        var size = Sg2Bench.Synthetic();
        var batch = new Option<int>("--batch") { Description = "Images per forward pass", DefaultValueFactory = _ => 16 };
        var warmup = Sg2Bench.Warmup();
        var repeats = Sg2Bench.Repeats();
        var dtype = new Option<string>("--dtype") { Description = "float32 (parity precision), bfloat16 or float16", DefaultValueFactory = _ => "float32" };
        var device = CliDevice.Option();
        var cmd = new Command("generate", "StyleGAN2 generation throughput (z -> image), both modulated-conv paths.") { ckpt, size, batch, dtype, warmup, repeats, device };
        cmd.SetAction(p => Sg2Cli.Run(() =>
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            var g = Sg2Bench.Model(p.GetValue(ckpt), p.GetValue(size), dev);
            int b = p.GetValue(batch);
            var dt = p.GetValue(dtype) switch
            {
                "float32" => ScalarType.Float32,
                "bfloat16" => ScalarType.BFloat16,
                "float16" => ScalarType.Float16,
                var other => throw new ArgumentException($"--dtype '{other}' is not float32, bfloat16 or float16"),
            };
            g.to(dt);
            using var _ = no_grad();
            var z = randn([b, g.Config.StyleDim], dtype: dt, device: dev);
            var opts = new GenerateOptions { RandomizeNoise = false };
            var table = new Table().AddColumns("path", "ms/batch (median)", "images/s", "vs grouped");
            double? baseline = null;
            foreach (var fused in new[] { true, false })
            {
                g.SetFusedModulation(fused);
                double ms = Sg2Bench.MedianMs(fused ? "grouped conv" : "shared kernel", () => g.Forward([z], opts).Image, p.GetValue(warmup), p.GetValue(repeats));
                baseline ??= ms;
                table.AddRow(fused ? "grouped conv (reference)" : "shared kernel", $"{ms:F1}", $"{b * 1000 / ms:F1}", $"{baseline.Value / ms:F2}x");
            }
            AnsiConsole.MarkupLineInterpolated($"batch {b}, {g.Config.Size} px, {dt}, device {dev}");
            AnsiConsole.Write(table);
            return 0;
        }));
        return cmd;
    }
}

/// <summary>`pipeline bench project`: image-steps/s of the projector, one image at a time vs one batched optimisation.</summary>
public sealed class ProjectBenchTarget : IBenchTarget
{
    public Command Build()
    {
        var ckpt = Sg2Bench.Checkpoint();
        var size = Sg2Bench.Synthetic();
        var images = new Option<int>("--images") { Description = "Images to project", DefaultValueFactory = _ => 8 };
        var steps = new Option<int>("--steps") { Description = "Projection steps per run", DefaultValueFactory = _ => 20 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up runs", DefaultValueFactory = _ => 1 };
        var repeats = new Option<int>("--repeats") { Description = "Timed runs (median)", DefaultValueFactory = _ => 3 };
        var device = CliDevice.Option();
        var cmd = new Command("project", "StyleGAN2 projection throughput: one image at a time vs a batch in one optimisation.") { ckpt, size, images, steps, warmup, repeats, device };
        cmd.SetAction(p => Sg2Cli.Run(() =>
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            var g = Sg2Bench.Model(p.GetValue(ckpt), p.GetValue(size), dev);
            g.SetFusedModulation(false);
            int n = p.GetValue(images), s = p.GetValue(steps);
            int res = Math.Min(g.Config.Size, 256);
            var targets = (rand([n, 3, res, res], device: dev) * 2 - 1);
            var projector = new Projector(g, new ProjectorOptions { Steps = s, MseWeight = 1, NMeanLatent = 1000 });
            double single = Sg2Bench.MedianMs("one image at a time", () =>
            {
                Tensor last = zeros(1);
                for (int i = 0; i < n; i++) last = projector.Project(targets.narrow(0, i, 1)).Latent;
                return last;
            }, p.GetValue(warmup), p.GetValue(repeats));
            double batched = Sg2Bench.MedianMs("one batched optimisation", () => projector.Project(targets).Latent, p.GetValue(warmup), p.GetValue(repeats));
            var table = new Table().AddColumns("mode", "ms (median)", "image-steps/s", "vs one-at-a-time");
            table.AddRow($"one at a time ({n} x 1)", $"{single:F0}", $"{n * s * 1000 / single:F1}", "1.00x");
            table.AddRow($"batched (1 x {n})", $"{batched:F0}", $"{n * s * 1000 / batched:F1}", $"{single / batched:F2}x");
            AnsiConsole.MarkupLineInterpolated($"{n} images, {s} steps, {g.Config.Size} px, MSE loss, device {dev}");
            AnsiConsole.Write(table);
            return 0;
        }));
        return cmd;
    }
}
