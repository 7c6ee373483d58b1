using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Engine;
using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics;
using Pipeline.Worker.Cli.Metrics;
using Pipeline.Worker.Cli.StyleGan1;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Operations;
using Pipeline.Worker.Operations.Inputs;
using Pipeline.Worker.Operations.Projection;
using TorchSharp;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>
/// `pipeline project`: find the latent (w or W+) and noise maps that reproduce each image (projector.py). Targets are
/// prepared as projection jobs prepare them (<see cref="ProjectionInput"/>: EXIF orientation, face alignment,
/// Pillow-exact resize), so a file gives the same target here and in a job. A StyleGAN v1 checkpoint (detected from
/// its keys) goes to <see cref="ProjectStyleGan1"/>, projector.py's v1 loop.
/// </summary>
public sealed class ProjectCommand : ICliCommand
{
    public Command Build()
    {
        var images = new Argument<FileInfo[]>("images") { Description = "Images to project (all optimised together, each with its own latent)", Arity = ArgumentArity.OneOrMore };
        var ckpt = Sg2Cli.Checkpoint();
        ckpt.Description = "StyleGAN2 checkpoint (rosinality train.py / convert_weight.py, SOAT) or StyleGAN v1 checkpoint (g_running or a bare generator state_dict), detected from the keys; v1 projects at the resolution detected from the weights. Default: the bundled StyleGAN2 model";
        var steps = new Option<int?>("--steps") { Description = "Optimisation steps (default 100 from the encoder, 1000 from the mean latent)" };
        var init = new Option<string>("--init") { Description = "Start: encoder (W+ from <ckpt>.encoder.pt, implies --w-plus), mean (projector.py), or auto (encoder when there is one)", DefaultValueFactory = _ => "auto" };
        var encoderFile = new Option<FileInfo?>("--encoder") { Description = "Encoder checkpoint (default: <ckpt name>.encoder.pt next to --ckpt)" };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate", DefaultValueFactory = _ => 0.1 };
        var noise = new Option<double?>("--noise") { Description = "Latent noise strength at step 0 (default: 0 from the encoder, 0.05 from the mean latent)" };
        var wPlus = new Option<bool>("--w-plus") { Description = "Optimise one w per layer (W+) instead of a single w" };
        var mse = new Option<double>("--mse") { Description = "MSE weight (projector.py: 0 with LPIPS; default 1 so MSE works alone)", DefaultValueFactory = _ => 1.0 };
        var lpips = new Option<bool>("--lpips") { Description = "Add the LPIPS (VGG16, v0.1) perceptual loss as projector.py does; needs the weights (`pipeline models`)" };
        var modelsDir = new Option<string?>("--models-dir") { Description = "Feature-network cache for --lpips (default $PIPELINE_MODELS or ~/.cache/pipeline/models)" };
        var noiseReg = new Option<double>("--noise-regularize") { Description = "Noise regularisation weight", DefaultValueFactory = _ => 1e5 };
        var batch = new Option<int>("--batch") { Description = "Images per optimisation (GPU pass)", DefaultValueFactory = _ => 8 };
        var seed = new Option<long>("--seed") { Description = "Seed of each image's random draws (noise maps, latent noise), as a projection job's Seed: the same file, seed and options give the job's result", DefaultValueFactory = _ => 0 };
        var alignFace = new Option<bool>("--align-face") { Description = "Align the face first (FFHQ crop, Pipeline__Faces__* settings), as projection jobs do by default (ProjectionJob.AlignFace); --align-face false projects the whole image", DefaultValueFactory = _ => true };
        var outDir = Sg2Cli.OutDir("projection");
        var device = CliDevice.Option();
        var cmd = new Command("project", "Project images into a StyleGAN2 or StyleGAN v1 latent space (the family is detected from the checkpoint's keys); writes latents (.npy and a torch.save .pt), reconstructions and a loss plot.")
        {
            images, ckpt, steps, init, encoderFile, lr, noise, wPlus, mse, lpips, modelsDir, noiseReg, batch, seed, alignFace, outDir, device,
        };
        cmd.SetAction(async (p, ct) =>
        {
            IPerceptualLoss? perceptual = null;
            if (p.GetValue(lpips))
            {
                try { perceptual = (await MetricsCli.Store(p.GetValue(modelsDir)).LoadLpipsVggAsync(ct)).Model; }
                catch (WeightsMissingException e) { return MetricsCli.Skipped(e); }
            }
            return Sg2Cli.Run(() =>
            {
                try { return Run(p, ct, perceptual); }
                catch (UnusableInputException e)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}{(p.GetValue(alignFace) ? " (--align-face false projects the whole image)" : "")}");
                    return 2;
                }
            });
        });
        return cmd;

        int Run(ParseResult p, CancellationToken ct, IPerceptualLoss? perceptual)
        {
            var dev = Devices.Parse(p.GetValue(device)!);
            if (perceptual is nn.Module m) m.to(dev);
            var files = p.GetValue(images)!;
            var ckptFile = p.GetValue(ckpt)!;
            using var checkpoint = Sg2Cli.Status($"loading {ckptFile.Name}", () => ProjectionCheckpoint.Read(ckptFile.FullName));
            if (checkpoint.Family == Engine.StyleGan1.GanFamily.StyleGan1)
                return ProjectStyleGan1.Run(new ProjectSettings
                {
                    Files = files, Steps = p.GetValue(steps), Init = p.GetValue(init), Encoder = p.GetValue(encoderFile), Lr = p.GetValue(lr),
                    Noise = p.GetValue(noise), WPlus = p.GetValue(wPlus), Mse = p.GetValue(mse), NoiseRegularize = p.GetValue(noiseReg),
                    Batch = p.GetValue(batch), Seed = p.GetValue(seed), AlignFace = p.GetValue(alignFace), OutDir = p.GetValue(outDir)!,
                }, checkpoint, dev, perceptual, ct);
            var (g, _) = Sg2Cli.LoadGenerator(ckptFile, dev, checkpoint.StyleGan2());
            g.SetFusedModulation(false); // same values; a batched shared-kernel conv backpropagates faster than a grouped one
            int res = ProjectionInput.Resolution(g.Config.Size);
            // Settings (Pipeline__Faces__*) bound as the worker binds them, once; every file fails early when it is unusable.
            using var host = WorkerHost.CreateCliHost();
            var faces = host.Services.GetRequiredService<FacePreparation>();
            var targets = files.Select(f => LoadTarget(f, res, p.GetValue(alignFace), faces)).ToList();
            var encPath = p.GetValue(encoderFile)?.FullName ?? EncoderCheckpoint.PathFor(p.GetValue(ckpt)!.FullName);
            var start = ProjectionInits.Resolve(p.GetValue(init), File.Exists(encPath));
            StyleEncoder? encoder = null;
            if (start == ProjectionInit.Encoder)
            {
                (encoder, _) = EncoderCheckpoint.Load(encPath, dev);
                AnsiConsole.MarkupLineInterpolated($"[grey]start: encoder {Path.GetFileName(encPath)} (W+)[/]");
            }
            else AnsiConsole.MarkupLine("[grey]start: mean latent[/]");
            var opts = new ProjectorOptions
            {
                Steps = p.GetValue(steps) ?? ProjectionInits.DefaultSteps(start), Lr = p.GetValue(lr),
                Noise = p.GetValue(noise) ?? ProjectionInits.DefaultNoise(start),
                WPlus = p.GetValue(wPlus) || encoder is not null, MseWeight = p.GetValue(mse),
                NoiseRegularize = p.GetValue(noiseReg), NMeanLatent = 10000, Coupling = ProjectionCoupling.Independent,
            };
            var projector = new Projector(g, opts, perceptual);
            var dir = p.GetValue(outDir)!;
            dir.Create();
            int bs = Math.Max(1, p.GetValue(batch));
            var tree = new OrderedDictionary<string, object?>();
            var curves = new List<LossPlot.Curve>();
            CliProgress.Run(addTask =>
            {
                for (int i0 = 0; i0 < files.Length; i0 += bs)
                {
                    var chunk = files.Skip(i0).Take(bs).ToArray();
                    var task = addTask($"projecting {string.Join(", ", chunk.Select(f => f.Name))}", opts.Steps);
                    var lossClock = System.Diagnostics.Stopwatch.StartNew();
                    var onStep = new Pipeline.Worker.Cli.Metrics.SyncProgress<ProjectionProgress>(s =>
                    {
                        // The loss costs a device sync: read it about once a second and on the last step only.
                        bool show = s.Step == s.Steps - 1 || lossClock.Elapsed >= TimeSpan.FromSeconds(1);
                        if (show) lossClock.Restart();
                        task.Set(s.Step + 1, show ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"loss {s.Loss():G4}") : null);
                    });
                    var batchTargets = cat(targets.Skip(i0).Take(bs).ToArray(), 0);
                    // One seeded generator per image, as the job's batcher draws: batching changes nothing.
                    using var draws = new SeededProjectorDraws(Enumerable.Repeat(p.GetValue(seed), chunk.Length).ToList());
                    var r = projector.Project(batchTargets, encoder is null ? null : ProjectionInits.Encode(encoder, batchTargets.to(dev)), draws, onStep, ct);
                    for (int k = 0; k < chunk.Length; k++)
                    {
                        var stem = Path.GetFileNameWithoutExtension(chunk[k].Name);
                        var latent = r.Latent[k].cpu().contiguous();
                        Npy.Save(Path.Combine(dir.FullName, $"{stem}-latent.npy"), latent);
                        Sg2Images.SavePng(r.Image[k], Path.Combine(dir.FullName, $"{stem}-project.png"));
                        curves.Add(LossPlot.Curve.ForImage(stem, r.History, k));
                        tree[chunk[k].Name] = new OrderedDictionary<string, object?>
                        {
                            ["img"] = r.Image[k].cpu().contiguous(),
                            ["latent"] = latent,
                            ["noise"] = r.Noises.Select(n => (object?)n.narrow(0, k, 1).cpu().contiguous()).ToList(),
                        };
                    }
                }
            });
            var ptPath = Path.Combine(dir.FullName, Path.GetFileNameWithoutExtension(files[0].Name) + ".pt");
            TorchFile.Save(ptPath, tree);
            var plotPath = Path.Combine(dir.FullName, "loss.png");
            LossPlot.Save(curves, plotPath);
            AnsiConsole.MarkupLineInterpolated($"[green]{files.Length} projected[/] from the {(encoder is null ? "mean latent" : "encoder's W+")} in {opts.Steps} steps: latents *.npy and {Path.GetFileName(ptPath)}, reconstructions *-project.png, loss curve {plotPath}");
            return 0;
        }
    }

    /// <summary>A file's target as a projection job prepares it: [1, 3, R, R] in [-1, 1].</summary>
    internal static Tensor LoadTarget(FileInfo file, int resolution, bool alignFace, FacePreparation faces)
    {
        if (!file.Exists) throw new FileNotFoundException($"image not found: {file.FullName}", file.FullName);
        try
        {
            using var target = ProjectionInput.Prepare(File.ReadAllBytes(file.FullName), alignFace, resolution, faces, InputImages.LocalFiles).Target;
            return target.unsqueeze(0);
        }
        catch (UnusableInputException e) { throw new UnusableInputException($"{file.Name}: {e.Message}", e); }
    }
}
