using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pipeline.Engine;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using Pipeline.Imaging.Synthetic;
using Pipeline.Worker.Operations.Inputs;
using Pipeline.Worker.Operations.Projection;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>
/// `pipeline bench project-init`: reconstruction quality after k projection steps from the mean latent and from the
/// encoder, on held-out generated images (seeds the encoder never trained on) and on the demo's uploads. Every k is
/// its own projection with a k-step schedule (lr ramps and noise decay scaled to k), as a user would run it.
/// Rows are appended to a JSON-lines file so the two starts can be measured in separate runs; the table is printed
/// from every row in that file.
/// </summary>
public sealed class ProjectInitBenchTarget : IBenchTarget
{
    private sealed record Row(string Init, int Steps, string Set, int Images, double Mse, double? Perceptual, double Seconds, string Device, double? Lr = null, double? Noise = null);

    public Command Build()
    {
        var ckpt = new Option<FileInfo>("--ckpt", "-c") { Description = "Generator", DefaultValueFactory = _ => new FileInfo("models/stylegan2-synthfaces-64.pt") };
        var encoderFile = new Option<FileInfo?>("--encoder") { Description = "Encoder (default <ckpt>.encoder.pt)" };
        var inits = new Option<string>("--inits") { Description = "Comma list of starts to run: mean, encoder", DefaultValueFactory = _ => "mean,encoder" };
        var stepList = new Option<string>("--steps") { Description = "Comma list of k", DefaultValueFactory = _ => "0,25,50,100,250,1000" };
        var count = new Option<int>("--count") { Description = "Held-out generated images", DefaultValueFactory = _ => 50 };
        var seed0 = new Option<long>("--seed0") { Description = "First held-out seed (z = SeededLatents.Z(seed); training draws z from torch's global stream)", DefaultValueFactory = _ => 1_000_000 };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (both starts)", DefaultValueFactory = _ => 0.1 };
        var noise = new Option<double?>("--noise") { Description = "Latent noise strength at t = 0 (default: each start's own, see ProjectionInits)" };
        var results = new Option<FileInfo>("--results") { Description = "JSON-lines file the rows are appended to (and the table read from)", DefaultValueFactory = _ => new FileInfo("bench-project-init.jsonl") };
        var modelsDir = new Option<string?>("--models-dir") { Description = "Feature-network cache for the perceptual distance (LPIPS-VGG, else VGG16-feature L2)" };
        var device = CliDevice.Option();
        var cmd = new Command("project-init", "Projection from the mean latent vs from the encoder: MSE after k steps and the time to reach 1000-step mean-init quality.")
        {
            ckpt, encoderFile, inits, stepList, count, seed0, lr, noise, results, modelsDir, device,
        };
        cmd.SetAction(async (p, ct) =>
        {
            // The projection itself fits pixels only (MSE), identically for both starts; the perceptual network, when
            // its weights are present, only measures the results.
            var (perceptual, perceptualName) = await Training.TrainEncoderCommand.LoadPerceptualAsync("auto", p.GetValue(modelsDir), ct);
            return Sg2Cli.Run(() =>
            {
                var dev = Devices.Parse(p.GetValue(device)!);
                if (perceptual is nn.Module pm) pm.to(dev);
                var (g, _) = Sg2Cli.LoadGenerator(p.GetValue(ckpt)!, dev);
                g.SetFusedModulation(false);
                int res = Math.Min(g.Config.Size, 256);
                var sets = Targets(g, p.GetValue(count), p.GetValue(seed0), res);
                var all = cat(sets.Select(s => s.Images).ToArray(), 0);
                var file = p.GetValue(results)!.FullName;
                foreach (var initName in p.GetValue(inits)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var init = ProjectionInits.Resolve(initName, true);
                    StyleEncoder? encoder = init == ProjectionInit.Encoder
                        ? EncoderCheckpoint.Load(p.GetValue(encoderFile)?.FullName ?? EncoderCheckpoint.PathFor(p.GetValue(ckpt)!.FullName), dev).Encoder
                        : null;
                    foreach (var k in p.GetValue(stepList)!.Split(',').Select(t => int.Parse(t, CultureInfo.InvariantCulture)))
                    {
                        ct.ThrowIfCancellationRequested();
                        using var scope = NewDisposeScope();
                        var clock = Stopwatch.StartNew();
                        var opts = new ProjectorOptions { Steps = k, Lr = p.GetValue(lr), Noise = p.GetValue(noise) ?? ProjectionInits.DefaultNoise(init), WPlus = true, MseWeight = 1, Coupling = ProjectionCoupling.Independent };
                        var start = encoder is null ? null : ProjectionInits.Encode(encoder, all);
                        var r = new Projector(g, opts).Project(all, start, new RandomProjectorDraws(0), null, ct);
                        var perImage = (r.Image.clamp(-1, 1) - all).square().mean([1, 2, 3]).cpu().to(float64).data<double>().ToArray();
                        double seconds = clock.Elapsed.TotalSeconds; // the measurement below is not part of the projection's time
                        double[]? perceptualPerImage = null;
                        if (perceptual is not null)
                            using (no_grad()) perceptualPerImage = perceptual.Distance(r.Image.clamp(-1, 1), all).reshape(-1).cpu().to(float64).data<double>().ToArray();
                        int offset = 0;
                        using var log = new StreamWriter(file, append: true);
                        foreach (var s in sets)
                        {
                            var row = new Row(initName, k, s.Name, s.Count, perImage.Skip(offset).Take(s.Count).Average(),
                                perceptualPerImage?.Skip(offset).Take(s.Count).Average(), seconds * s.Count / all.shape[0], dev.ToString(), opts.Lr, opts.Noise);
                            offset += s.Count;
                            log.WriteLine(JsonSerializer.Serialize(row));
                        }
                        AnsiConsole.MarkupLineInterpolated($"{initName} k={k}: {seconds:F1} s, mse(held-out) {perImage.Take(sets[0].Count).Average():G4}");
                    }
                }
                var rows = File.ReadAllLines(file).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<Row>(l)!).ToList();
                Console.WriteLine(Table(rows, perceptualName));
                return 0;
            });
        });
        return cmd;
    }

    private sealed record TargetSet(string Name, Tensor Images)
    {
        public int Count => (int)Images.shape[0];
    }

    /// <summary>Held-out generated images (stored noise, psi 1, 8-bit quantised as a saved PNG would be) and the demo's uploads.</summary>
    private static List<TargetSet> Targets(Engine.StyleGan2.Generator g, int count, long seed0, int res)
    {
        Tensor held;
        using (no_grad())
        {
            var z = cat(Enumerable.Range(0, count).Select(i => SeededLatents.Z(seed0 + i, g.Config.StyleDim)).ToArray(), 0).to(g.Device);
            var img = g.Forward([z], new GenerateOptions { RandomizeNoise = false }).Image.clamp(-1, 1);
            held = ((img + 1) * 127.5).round() / 127.5 - 1;
            if (res != g.Config.Size) held = nn.functional.interpolate(held, [res, res], mode: InterpolationMode.Area);
        }
        // The demo's uploads go through the job's preprocessing (resize + centre crop) as a projection job would.
        Tensor Upload(byte[] png) => ProjectionInput.Preprocess(InputImages.Decode(png), res).unsqueeze(0);
        var faces = cat(new[] { 2, 5, 0 }.Select(s => Upload(SyntheticFaces.DrawPng(s, FaceStyle.PhotoLike, 256))).ToArray(), 0);
        var scenes = cat(new[] { 11, 12 }.Select(s => Upload(SyntheticLandscapes.ImagePng(SyntheticLandscapes.Draw(s, 256, 256)))).ToArray(), 0);
        return [new("held-out generated", held), new("demo faces (alice, bob, carol)", faces.to(g.Device)), new("demo landscapes (valley, valley-twin)", scenes.to(g.Device))];
    }

    /// <summary>The start and the schedule its rows ran with (older rows recorded neither).</summary>
    private static string Label(Row r) => r.Lr is { } lr
        ? string.Create(CultureInfo.InvariantCulture, $"{r.Init} (lr {lr:G3}, noise {r.Noise:G3})") : r.Init;

    private static string Table(List<Row> rows, string perceptualName)
    {
        // The last row of each (init, steps, set) wins, so a rerun replaces an older measurement.
        var last = rows.GroupBy(r => (r.Init, r.Steps, r.Set)).Select(gr => gr.Last()).ToList();
        var sb = new System.Text.StringBuilder();
        foreach (var set in last.Select(r => r.Set).Distinct())
        {
            var ks = last.Where(r => r.Set == set).Select(r => r.Steps).Distinct().Order().ToList();
            var initsHere = last.Where(r => r.Set == set).Select(r => r.Init).Distinct().ToList();
            sb.AppendLine(CultureInfo.InvariantCulture, $"\n{set} ({last.First(r => r.Set == set).Images} images): MSE after k steps (wall seconds of the batched run, this set's share)\n");
            sb.AppendLine("| init | " + string.Join(" | ", ks.Select(k => $"k={k}")) + " |");
            sb.AppendLine("| --- |" + string.Concat(ks.Select(_ => " --- |")));
            foreach (var init in initsHere)
                sb.AppendLine($"| {Label(last.Last(r => r.Set == set && r.Init == init))} | " + string.Join(" | ", ks.Select(k => last.FirstOrDefault(r => r.Set == set && r.Init == init && r.Steps == k) is { } r
                    ? string.Create(CultureInfo.InvariantCulture, $"{r.Mse:F5}{(r.Perceptual is { } pd ? $" / {pd:F4}" : "")} ({r.Seconds:F0} s)") : "–")) + " |");
            var goal = last.FirstOrDefault(r => r.Set == set && r.Init == "mean" && r.Steps == 1000);
            if (goal is null) continue;
            var reach = last.Where(r => r.Set == set && r.Init == "encoder" && r.Mse <= goal.Mse).OrderBy(r => r.Steps).FirstOrDefault();
            sb.AppendLine(reach is null
                ? string.Create(CultureInfo.InvariantCulture, $"\nencoder start did not reach mean-init k=1000 MSE {goal.Mse:F5} at any measured k")
                : string.Create(CultureInfo.InvariantCulture, $"\nencoder start reaches mean-init k=1000 MSE {goal.Mse:F5} at k={reach.Steps} (MSE {reach.Mse:F5}): {reach.Seconds:F1} s vs {goal.Seconds:F1} s, {goal.Seconds / Math.Max(reach.Seconds, 1e-9):F1}x less wall time, {1000.0 / Math.Max(reach.Steps, 1):F0}x fewer steps"));
            var mean250 = last.FirstOrDefault(r => r.Set == set && r.Init == "mean" && r.Steps == 250);
            var enc0 = last.FirstOrDefault(r => r.Set == set && r.Init == "encoder" && r.Steps == 0);
            if (mean250 is not null && enc0 is not null)
                sb.AppendLine(string.Create(CultureInfo.InvariantCulture, $"encoder k=0 (one forward pass) MSE {enc0.Mse:F5} vs mean-init k=250 {mean250.Mse:F5}: {(enc0.Mse <= mean250.Mse ? "better" : "worse")}"));
        }
        sb.AppendLine(rows.Any(r => r.Perceptual is not null)
            ? $"\nCells: MSE / perceptual distance ({perceptualName}) (seconds)."
            : $"\nPerceptual distance: not measured ({perceptualName}).");
        return sb.ToString();
    }
}
