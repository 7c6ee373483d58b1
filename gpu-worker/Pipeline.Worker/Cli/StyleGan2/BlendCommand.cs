using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.StyleGan2;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>`pipeline blend`: SOAT blending of two seeds, by a spatial ramp or inside a box.</summary>
public sealed class BlendCommand : ICliCommand
{
    public Command Build()
    {
        var ckpt = Sg2Cli.Checkpoint();
        var seedA = new Option<long>("--seed-a") { Description = "Seed of the first image", DefaultValueFactory = _ => 1 };
        var seedB = new Option<long>("--seed-b") { Description = "Seed of the second image", DefaultValueFactory = _ => 2 };
        var direction = new Option<BlendDirection>("--direction") { Description = "Ramp direction (vertical: top = A, bottom = B)", DefaultValueFactory = _ => BlendDirection.Horizontal };
        var box = new Option<string?>("--box") { Description = "x,y,w,h in 256-px units: put B's content inside this box of A (blend_bbox) instead of a ramp" };
        var face = new Option<bool>("--face") { Description = "With --box: keep A's pose (SOAT model_type 'face')" };
        var numBlend = new Option<int>("--num-blend") { Description = "With --box: blend style entries up to this index", DefaultValueFactory = _ => 99 };
        var trunc = new Option<double>("--truncation", "-t") { Description = "Style-space truncation", DefaultValueFactory = _ => 0.7 };
        var meanSamples = new Option<int>("--mean-samples") { Description = "z samples for the style-space means", DefaultValueFactory = _ => 10000 };
        var outDir = Sg2Cli.OutDir("blend");
        var device = CliDevice.Option();
        var cmd = new Command("blend", "Blend two generated images with SOAT (ramp or bounding box); writes a.png, b.png, blend.png.")
        {
            ckpt, seedA, seedB, direction, box, face, numBlend, trunc, meanSamples, outDir, device,
        };
        cmd.SetAction(p => Sg2Cli.Run(() =>
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            var (g, _) = Sg2Cli.LoadGenerator(p.GetValue(ckpt)!, dev);
            var soat = new Soat(g);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var mean = soat.MeanStyles(p.GetValue(meanSamples));
            var z = cat([SeededLatents.Z(p.GetValue(seedA), g.Config.StyleDim), SeededLatents.Z(p.GetValue(seedB), g.Config.StyleDim)], 0).to(dev);
            var styles = soat.GetStyles(z, truncation: p.GetValue(trunc), meanStyles: mean);
            var (a, b) = (Soat.IndexLayers(styles, 0), Soat.IndexLayers(styles, 1));
            Tensor blended;
            if (p.GetValue(box) is { } text)
            {
                var v = text.Split(',').Select(s => int.TryParse(s.Trim(), out var x) ? x : throw new ArgumentException($"--box '{text}' is not x,y,w,h")).ToArray();
                if (v.Length != 4) throw new ArgumentException($"--box '{text}' is not x,y,w,h");
                blended = soat.BlendBox(a, b, new BlendBoxOptions(new Box256(v[0], v[1], v[2], v[3]), p.GetValue(face), p.GetValue(numBlend)));
            }
            else blended = soat.Blend(a, b, p.GetValue(direction));
            var dir = p.GetValue(outDir)!;
            dir.Create();
            Sg2Images.SavePng(soat.Forward(a), Path.Combine(dir.FullName, "a.png"));
            Sg2Images.SavePng(soat.Forward(b), Path.Combine(dir.FullName, "b.png"));
            Sg2Images.SavePng(blended, Path.Combine(dir.FullName, "blend.png"));
            AnsiConsole.MarkupLineInterpolated($"[green]blend[/] written to {dir.FullName}");
            return 0;
        }));
        return cmd;
    }
}
