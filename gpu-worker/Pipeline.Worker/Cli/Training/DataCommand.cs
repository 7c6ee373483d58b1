using System.CommandLine;
using System.Globalization;
using Pipeline.Imaging;
using Pipeline.Worker.Cli.Council;
using Pipeline.Worker.Cli.StyleGan2;
using Spectre.Console;

namespace Pipeline.Worker.Cli.Training;

/// <summary>`pipeline data synth`: writes the built-in synthetic data set as PNG files (deterministic by seed).</summary>
public sealed class DataCommand : ICliCommand
{
    public Command Build()
    {
        var kind = new Option<string>("--kind") { Description = "faces-photo, faces-anime, landscapes or paintings", Required = true };
        var count = new Option<int>("--count", "-n") { Description = "Number of images", DefaultValueFactory = _ => 100 };
        var size = new Option<int>("--size") { Description = "Width and height in pixels (>= 16)", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "First seed (image i uses seed + i)", DefaultValueFactory = _ => 0 };
        var labels = new Option<bool>("--labels") { Description = "landscapes: also write the label maps (<name>_label.png, class index per pixel)" };
        var outDir = new Option<DirectoryInfo>("--out", "-o") { Description = "Output folder", Required = true };
        var synth = new Command("synth", "Draw synthetic portraits (photo-like / anime-like) or landscape scenes as PNG files.")
        {
            kind, count, size, seed, labels, outDir,
        };
        synth.SetAction(p => Sg2Cli.Run(() =>
        {
            var k = TrainingData.ParseKind(p.GetValue(kind)!);
            int n = p.GetValue(count), s = p.GetValue(size), s0 = p.GetValue(seed);
            if (n < 1) throw new ArgumentException("--count must be >= 1");
            if (s < 16) throw new ArgumentException("--size must be >= 16");
            var dir = p.GetValue(outDir)!;
            dir.Create();
            bool withLabels = p.GetValue(labels);
            if (withLabels && k != SyntheticKind.Landscapes) throw new ArgumentException("--labels applies to --kind landscapes only");
            AnsiConsole.Progress().Start(ctx =>
            {
                var task = ctx.AddTask($"{TrainingData.Name(k)} {s}px", maxValue: n);
                Parallel.For(0, n, i =>
                {
                    string name = Path.Combine(dir.FullName, $"{TrainingData.Name(k)}_{(s0 + i).ToString("D6", CultureInfo.InvariantCulture)}");
                    if (k == SyntheticKind.Landscapes)
                    {
                        var scene = Pipeline.Imaging.Synthetic.SyntheticLandscapes.Draw(s0 + i, s, s);
                        File.WriteAllBytes(name + ".png", Pipeline.Imaging.Synthetic.SyntheticLandscapes.ImagePng(scene));
                        if (withLabels) File.WriteAllBytes(name + "_label.png", Pipeline.Imaging.Synthetic.SyntheticLandscapes.LabelPng(scene));
                    }
                    else CouncilImageIO.WritePng(new RgbImage(s, s, TrainingData.DrawRgb(k, s0 + i, s)), name + ".png");
                    task.Increment(1);
                });
            });
            AnsiConsole.MarkupLineInterpolated($"[green]wrote[/] {n} images to {dir.FullName}");
            return 0;
        }));
        var cmd = new Command("data", "Built-in data sets.");
        cmd.Subcommands.Add(synth);
        return cmd;
    }
}
