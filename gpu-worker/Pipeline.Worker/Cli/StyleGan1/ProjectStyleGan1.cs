using Microsoft.Extensions.DependencyInjection;
using Pipeline.Engine;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using Pipeline.Worker.Cli.StyleGan2;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Operations.Inputs;
using Pipeline.Worker.Operations.Projection;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan1;

/// <summary>What `pipeline project` was asked for, as the StyleGAN v1 branch needs it (null = not given).</summary>
internal sealed record ProjectSettings
{
    public required FileInfo[] Files { get; init; }
    public int? Steps { get; init; }
    public string? Init { get; init; }
    public FileInfo? Encoder { get; init; }
    public double? Lr { get; init; }
    public double? Noise { get; init; }
    public bool WPlus { get; init; }
    public double Mse { get; init; }
    public double NoiseRegularize { get; init; }
    public int Batch { get; init; }
    public long Seed { get; init; }
    public bool AlignFace { get; init; }
    public required DirectoryInfo OutDir { get; init; }
}

/// <summary>
/// `pipeline project` on a StyleGAN v1 checkpoint: projector.py for rosinality/style-based-gan-pytorch (spec
/// stylegan1 section 12) at the checkpoint's trained resolution. Targets are prepared as StyleGAN2 projection prepares
/// them (<see cref="ProjectionInput"/>); writes `&lt;stem&gt;-project.png`, `&lt;stem&gt;-latent.npy`, projector.py's
/// `&lt;first file&gt;.pt` and the loss plot. Options v1's projector has no counterpart for are refused (exit 1).
/// </summary>
internal static class ProjectStyleGan1
{
    /// <summary>Options of the StyleGAN2 path that v1 has no counterpart for: a one-line reason, or null when all is well.</summary>
    public static string? Unsupported(ProjectSettings s)
    {
        if (s.WPlus)
            return "--w-plus is not available for StyleGAN v1 checkpoints (projector.py's --w_plus crashes there: the v1 generator has no per-layer latents); v1 projects one latent per image";
        var init = s.Init?.Trim().ToLowerInvariant();
        if (init == "encoder" || s.Encoder is not null)
            return "--init encoder / --encoder are StyleGAN2 only: there is no encoder for StyleGAN v1 checkpoints; v1 starts from the mean latent (--init mean or auto)";
        if (init is not (null or "" or "auto" or "mean"))
            return $"--init must be encoder, mean or auto, not '{s.Init}'";
        return null;
    }

    public static int Run(ProjectSettings s, ProjectionCheckpoint checkpoint, Device device, IPerceptualLoss? perceptual, CancellationToken ct)
    {
        if (Unsupported(s) is { } reason) throw new ArgumentException(reason);
        using var g = Sg2Cli.Status($"loading {Path.GetFileName(checkpoint.Path)}", () => checkpoint.CreateStyleGan1(device));
        int step = StyleMixingGrid.DetectTrainedStep(g);
        int res = StyleGan1Projection.TargetResolution(step);
        AnsiConsole.MarkupLineInterpolated($"[grey]{Path.GetFileName(checkpoint.Path)}: StyleGAN v1, {4 << step} px (detected from the weights), code_dim {g.Config.CodeDim}, n_mlp {g.Config.NMlp}, device {device}[/]");
        AnsiConsole.MarkupLine("[grey]start: mean latent[/]");
        using var host = WorkerHost.CreateCliHost();
        var faces = host.Services.GetRequiredService<FacePreparation>();
        var targets = s.Files.Select(f => ProjectCommand.LoadTarget(f, res, s.AlignFace, faces)).ToList();
        var options = new StyleGan1ProjectorOptions
        {
            Step = step,
            Iterations = s.Steps ?? 1000,
            LearningRate = s.Lr ?? 0.1,
            Noise = s.Noise ?? 0.05,
            NoiseRegularize = s.NoiseRegularize,
            Mse = s.Mse,
        };
        if (options.Iterations < 0) throw new ArgumentException("--steps must be at least 0");
        var dir = s.OutDir;
        dir.Create();
        int bs = Math.Max(1, s.Batch);
        var tree = new OrderedDictionary<string, object?>();
        var curves = new List<LossPlot.Curve>();
        CliProgress.Run(addTask =>
        {
            for (int i0 = 0; i0 < s.Files.Length; i0 += bs)
            {
                var chunk = s.Files.Skip(i0).Take(bs).ToArray();
                var task = addTask($"projecting {string.Join(", ", chunk.Select(f => f.Name))}", Math.Max(1, options.Iterations));
                using var batchTargets = cat(targets.Skip(i0).Take(bs).ToArray(), 0);
                using var draws = new SeededProjectorDraws(Enumerable.Repeat(s.Seed, chunk.Length).ToList());
                var r = StyleGan1Projection.Project(g, batchTargets, options, draws, device, perceptual,
                    new Inline(p => task.Set(p.Done)), ct);
                // projector.py's loss is the batch's (LPIPS summed over it): one curve per batch.
                curves.Add(new LossPlot.Curve(string.Join(", ", chunk.Select(f => Path.GetFileNameWithoutExtension(f.Name))),
                    r.Losses.Select((l, i) => (i, l)).ToList()));
                for (int k = 0; k < chunk.Length; k++)
                {
                    var stem = Path.GetFileNameWithoutExtension(chunk[k].Name);
                    var latent = r.Latent[k].cpu().contiguous();
                    Npy.Save(Path.Combine(dir.FullName, $"{stem}-latent.npy"), latent);
                    Sg2Images.SavePng(r.Image[k], Path.Combine(dir.FullName, $"{stem}-project.png"));
                    tree[chunk[k].Name] = new OrderedDictionary<string, object?>
                    {
                        ["img"] = r.Image[k].cpu().contiguous(),
                        ["latent"] = latent,
                        ["noise"] = r.Noises.Select(n => (object?)n.narrow(0, k, 1).cpu().contiguous()).ToList(),
                    };
                }
                if (options.Iterations == 0) task.Set(1);
            }
        });
        var ptPath = Path.Combine(dir.FullName, Path.GetFileNameWithoutExtension(s.Files[0].Name) + ".pt");
        TorchFile.Save(ptPath, tree);
        var plotPath = Path.Combine(dir.FullName, "loss.png");
        LossPlot.Save(curves, plotPath, "StyleGAN v1 projection");
        AnsiConsole.MarkupLineInterpolated($"[green]{s.Files.Length} projected[/] (StyleGAN v1, {4 << step} px) from the mean latent in {options.Iterations} steps: latents *.npy and {Path.GetFileName(ptPath)}, reconstructions *-project.png, loss curve {plotPath}");
        return 0;
    }

    /// <summary>Reports synchronously on the optimising thread (Progress&lt;T&gt; would post and lag behind).</summary>
    private sealed class Inline(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
