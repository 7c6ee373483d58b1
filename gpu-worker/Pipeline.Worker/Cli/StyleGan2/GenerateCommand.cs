using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Worker.Operations.Sampling;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>
/// `pipeline generate`: sample a StyleGAN2 checkpoint by seeds or count, with truncation and style mixing. The arguments
/// become the request an augmentation job carries (<see cref="StyleGan2Sampling"/>), so a seed gives the job's image.
/// </summary>
public sealed class GenerateCommand : ICliCommand
{
    public Command Build()
    {
        var ckpt = Sg2Cli.Checkpoint();
        var seeds = new Option<string?>("--seeds", "-s") { Description = "Seeds, e.g. 1,2,10-19 (each seed gives the same image on any device)" };
        var count = new Option<int>("--count", "-n") { Description = "Number of images when no --seeds are given (seeds 0..n-1)", DefaultValueFactory = _ => 8 };
        var mix = new Option<string?>("--mix-seeds") { Description = "Style-mixing seeds: image i takes rows >= --inject-index from mix seed i (cycled); each mixed image is its own forward pass" };
        var inject = new Option<int?>("--inject-index") { Description = "Style mixing crossover row (default: drawn from each image's seed, as in augmentation jobs)" };
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
            var (g, _) = Sg2Cli.LoadGenerator(p.GetValue(ckpt)!, dev);
            var seedList = p.GetValue(seeds) is { } s ? Sg2Cli.ParseSeeds(s) : Enumerable.Range(0, p.GetValue(count)).Select(i => (long)i).ToList();
            var request = new StyleGan2SampleRequest
            {
                Seeds = seedList,
                Truncation = p.GetValue(trunc),
                TruncationMeanSamples = p.GetValue(truncMean),
                MixSeeds = p.GetValue(mix) is { } m ? Sg2Cli.ParseSeeds(m) : null,
                InjectIndex = p.GetValue(inject),
                RandomNoise = p.GetValue(randomNoise),
                Batch = p.GetValue(batch),
            };
            StyleGan2Sampling.Validate(g, request);
            var dir = p.GetValue(outDir)!;
            dir.Create();
            var all = new List<Tensor>();
            CliProgress.Run(addTask =>
            {
                var task = addTask("generating", seedList.Count);
                foreach (var samples in StyleGan2Sampling.Sample(g, request, dev))
                {
                    foreach (var sample in samples)
                    {
                        Sg2Images.SavePng(sample.Image, Path.Combine(dir.FullName, $"seed{sample.Seed:D4}.png"));
                        all.Add(sample.Image);
                    }
                    task.Increment(samples.Count);
                }
            });
            var sheetPath = Path.Combine(dir.FullName, "contact_sheet.png");
            using (var images = cat(all.ToArray(), 0)) Sg2Images.SavePng(Sg2Images.ContactSheet(images, p.GetValue(columns)), sheetPath);
            foreach (var t in all) t.Dispose();
            AnsiConsole.MarkupLineInterpolated($"[green]{seedList.Count} images[/] in {dir.FullName} (contact sheet: {sheetPath})");
            return 0;
        }));
        return cmd;
    }
}
