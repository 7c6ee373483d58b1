using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.StyleGan2;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>`pipeline generate`: sample a StyleGAN2 checkpoint by seeds or count, with truncation and style mixing.</summary>
public sealed class GenerateCommand : ICliCommand
{
    public Command Build()
    {
        var ckpt = Sg2Cli.Checkpoint();
        var seeds = new Option<string?>("--seeds", "-s") { Description = "Seeds, e.g. 1,2,10-19 (each seed gives the same image on any device)" };
        var count = new Option<int>("--count", "-n") { Description = "Number of images when no --seeds are given (seeds 0..n-1)", DefaultValueFactory = _ => 8 };
        var mix = new Option<string?>("--mix-seeds") { Description = "Style-mixing seeds: image i takes rows >= --inject-index from mix seed i (cycled)" };
        var inject = new Option<int?>("--inject-index") { Description = "Style mixing crossover row (default: random per image, as in training)" };
        var randomNoise = new Option<bool>("--random-noise") { Description = "Fresh noise per image (reference default) instead of the stored noise buffers" };
        var batch = new Option<int>("--batch") { Description = "Images per forward pass", DefaultValueFactory = _ => 16 };
        var columns = new Option<int>("--columns") { Description = "Contact sheet columns", DefaultValueFactory = _ => 8 };
        var trunc = Sg2Cli.Truncation();
        var truncMean = Sg2Cli.TruncationMean();
        var outDir = Sg2Cli.OutDir("generated");
        var device = CliDevice.Option();
        var cmd = new Command("generate", "Generate PNG images (and a contact sheet) from a StyleGAN2 checkpoint.")
        {
            ckpt, seeds, count, trunc, truncMean, mix, inject, randomNoise, batch, columns, outDir, device,
        };
        cmd.SetAction(p => Sg2Cli.Run(() =>
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            var (g, file) = Sg2Cli.LoadGenerator(p.GetValue(ckpt)!, dev);
            var seedList = p.GetValue(seeds) is { } s ? Sg2Cli.ParseSeeds(s) : Enumerable.Range(0, p.GetValue(count)).Select(i => (long)i).ToList();
            if (seedList.Count == 0) throw new ArgumentException("no images requested");
            var mixList = p.GetValue(mix) is { } m ? Sg2Cli.ParseSeeds(m) : null;
            double psi = p.GetValue(trunc);
            var tl = Sg2Cli.TruncationLatent(g, file, psi, p.GetValue(truncMean));
            var dir = p.GetValue(outDir)!;
            dir.Create();
            int bs = Math.Max(1, p.GetValue(batch));
            var rng = new Random(0);
            var all = new List<Tensor>();
            CliProgress.Run(addTask =>
            {
                var task = addTask("generating", seedList.Count);
                for (int i0 = 0; i0 < seedList.Count; i0 += bs)
                {
                    using var scope = NewDisposeScope();
                    using var _ = no_grad();
                    var chunk = seedList.Skip(i0).Take(bs).ToList();
                    var z = cat(chunk.Select(sd => SeededLatents.Z(sd, g.Config.StyleDim)).ToArray(), 0).to(dev);
                    var opts = new GenerateOptions { Truncation = psi, TruncationLatent = tl, RandomizeNoise = p.GetValue(randomNoise), MixingRandom = rng };
                    Tensor img;
                    if (mixList is { Count: > 0 })
                    {
                        var z2 = cat(chunk.Select((_, k) => SeededLatents.Z(mixList[(i0 + k) % mixList.Count], g.Config.StyleDim)).ToArray(), 0).to(dev);
                        img = g.Forward([z, z2], opts with { InjectIndex = p.GetValue(inject) }).Image;
                    }
                    else img = g.Forward([z], opts).Image;
                    img = img.cpu();
                    for (int k = 0; k < chunk.Count; k++)
                        Sg2Images.SavePng(img[k], Path.Combine(dir.FullName, $"seed{chunk[k]:D4}.png"));
                    all.Add(scope.MoveToOuter(img.clamp(-1, 1)));
                    task.Increment(chunk.Count);
                }
            });
            var sheetPath = Path.Combine(dir.FullName, "contact_sheet.png");
            Sg2Images.SavePng(Sg2Images.ContactSheet(cat(all.ToArray(), 0), p.GetValue(columns)), sheetPath);
            AnsiConsole.MarkupLineInterpolated($"[green]{seedList.Count} images[/] in {dir.FullName} (contact sheet: {sheetPath})");
            return 0;
        }));
        return cmd;
    }
}
