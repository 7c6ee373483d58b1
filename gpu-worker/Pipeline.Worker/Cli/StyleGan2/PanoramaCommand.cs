using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.StyleGan2;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>`pipeline panorama`: SOAT's infinite panorama (neighbouring latents joined by merge_extension).</summary>
public sealed class PanoramaCommand : ICliCommand
{
    public Command Build()
    {
        var ckpt = Sg2Cli.Checkpoint();
        var images = new Option<int>("--images", "-n") { Description = "Images joined left to right (>= 2)", DefaultValueFactory = _ => 5 };
        var seed = new Option<long>("--seed") { Description = "Seed of the z draws", DefaultValueFactory = _ => 90 };
        var trunc = new Option<double>("--truncation", "-t") { Description = "Style-space truncation", DefaultValueFactory = _ => 0.7 };
        var meanSamples = new Option<int>("--mean-samples") { Description = "z samples for the style-space means (SOAT: 50000)", DefaultValueFactory = _ => 10000 };
        var sigma = new Option<double>("--sigma") { Description = "Periodic smoothing of z across images (0 = off)", DefaultValueFactory = _ => 0.7 };
        var output = new Option<FileInfo>("--out", "-o") { Description = "Output PNG", DefaultValueFactory = _ => new FileInfo("panorama.png") };
        var device = CliDevice.Option();
        var cmd = new Command("panorama", "Generate a wide panorama with SOAT merge_extension.") { ckpt, images, seed, trunc, meanSamples, sigma, output, device };
        cmd.SetAction(p => Sg2Cli.Run(() =>
        {
            int n = p.GetValue(images);
            if (n < 2) throw new ArgumentException("--images must be at least 2");
            var dev = Devices.Parse(p.GetValue(device)!);
            var (g, _) = Sg2Cli.LoadGenerator(p.GetValue(ckpt)!, dev);
            var soat = new Soat(g);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var result = Sg2Cli.Status($"rendering {n - 1} merge_extension pairs", () =>
            {
                var mean = soat.MeanStyles(p.GetValue(meanSamples));
                var z = soat.PanoramaLatents(n, p.GetValue(seed));
                return soat.Panorama(z, new PanoramaOptions(n, p.GetValue(trunc), p.GetValue(sigma)), mean);
            });
            var path = p.GetValue(output)!.FullName;
            Sg2Images.SavePng(result.Panorama, path);
            AnsiConsole.MarkupLineInterpolated($"[green]panorama[/] {result.Panorama.shape[3]}x{result.Panorama.shape[2]} -> {path}");
            return 0;
        }));
        return cmd;
    }
}
