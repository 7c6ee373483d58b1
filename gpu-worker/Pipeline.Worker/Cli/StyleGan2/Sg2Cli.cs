using System.CommandLine;
using Pipeline.Engine.StyleGan2;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>Options and helpers the StyleGAN2 commands share: checkpoint, device, seeds, truncation, error reporting.</summary>
internal static class Sg2Cli
{
    public static Option<FileInfo> Checkpoint() => new("--ckpt", "--model", "-c")
    {
        Description = "StyleGAN2 checkpoint (.pt from rosinality train.py / convert_weight.py, or SOAT); shapes are inferred from the weights. Default: the bundled model",
        DefaultValueFactory = _ => new FileInfo(BundledModels.StyleGan2),
    };

    public static Option<double> Truncation() => new("--truncation", "-t")
    {
        Description = "Truncation psi (1 = none) towards the mean latent of --truncation-mean seeded samples (generate.py's rule; latent_avg is not used)",
        DefaultValueFactory = _ => 1.0,
    };

    public static Option<int> TruncationMean() => new("--truncation-mean")
    {
        Description = "Samples (z seeds 0..) for the truncation mean latent, as generate.py's --truncation_mean",
        DefaultValueFactory = _ => 4096,
    };

    public static Option<DirectoryInfo> OutDir(string defaultDir) => new("--out", "-o")
    {
        Description = "Output folder",
        DefaultValueFactory = _ => new DirectoryInfo(defaultDir),
    };

    /// <summary>Loads the checkpoint's generator onto the device; errors say which file and what is wrong.</summary>
    public static (Engine.StyleGan2.Generator G, StyleGan2Checkpoint Ckpt) LoadGenerator(FileInfo file, Device device, StyleGan2Checkpoint? loaded = null)
    {
        var ckpt = loaded ?? Status($"loading {file.Name}", () => StyleGan2Checkpoint.Load(file.FullName));
        var g = ckpt.Generator;
        g.to(device);
        var c = g.Config;
        AnsiConsole.MarkupLineInterpolated($"[grey]{file.Name}: {c.Size} px, style_dim {c.StyleDim}, n_mlp {c.NMlp}, {c.NLatent} latent rows, device {device}[/]");
        return (g, ckpt);
    }

    /// <summary>"1,2,5-8" -> 1 2 5 6 7 8.</summary>
    public static List<long> ParseSeeds(string text)
    {
        var seeds = new List<long>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', 1);
            if (dash > 0 && long.TryParse(part[..dash], out var a) && long.TryParse(part[(dash + 1)..], out var b) && b >= a)
                for (long s = a; s <= b; s++) seeds.Add(s);
            else if (long.TryParse(part, out var s1)) seeds.Add(s1);
            else throw new ArgumentException($"'{part}' is not a seed or a range like 4-9");
        }
        return seeds;
    }

    public static T Status<T>(string text, Func<T> body) => CliProgress.Interactive ? AnsiConsole.Status().Start(text, _ => body()) : body();

    /// <summary>Runs a command body, turning expected failures into one red line and exit code 1 (2 for bad input files).</summary>
    public static int Run(Func<int> body)
    {
        try { return body(); }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException or InvalidOperationException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return e is FileNotFoundException or InvalidDataException ? 2 : 1;
        }
    }
}
