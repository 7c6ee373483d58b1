using System.Diagnostics;
using System.Globalization;
using System.Text;
using Pipeline.Engine;
using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Cli.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.StyleGan2;

/// <summary>
/// Projection jobs (StyleGAN2 latent of an uploaded image, projector.py). Writes results/&lt;jobId&gt;/latent.npy,
/// projection.pt ({"img", "latent", "noise"} as projector.py stores per file), projected.png, loss.csv and loss.png.
/// LPIPS is used when its weights are installed (as projector.py does); without them the job needs Mse &gt; 0.
/// </summary>
public sealed class StyleGan2ProjectionHandler : IJobHandler
{
    private static readonly Lazy<IPerceptualLoss?> Lpips = new(() =>
    {
        try { return new FeatureNetworkStore(new FeatureNetworkOptions()).LoadLpipsVggAsync().GetAwaiter().GetResult().Model; }
        catch (WeightsMissingException) { return null; }
    });

    public bool CanHandle(JobSpec job) => job is ProjectionJob;

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (ProjectionJob)context.Job;
        if (job.Steps < 1) throw new PermanentJobException("Steps must be at least 1");
        var device = cuda.is_available() ? CUDA : CPU;
        var ckpt = await StyleGan2AugmentationHandler.LoadAsync(context, job.Model, device, cancellationToken);
        var g = ckpt.Generator;
        var perceptual = Lpips.Value;
        if (perceptual is null && job.Mse <= 0)
            throw new PermanentJobException("Mse is 0 and the LPIPS weights are not installed (`pipeline models fetch`): the projection would have no image loss");
        if (perceptual is nn.Module m) m.to(device);

        var bytes = await context.ReadInputAsync(job.Input, cancellationToken);
        Tensor target;
        try { target = Sg2Images.LoadTarget(bytes, Math.Min(g.Config.Size, 256), job.Input.Path); }
        catch (InvalidDataException e) { throw new PermanentJobException(e.Message, e); }

        g.SetFusedModulation(false);
        var projector = new Projector(g, new ProjectorOptions
        {
            Steps = job.Steps, Lr = job.LearningRate, Noise = job.Noise, NoiseRamp = job.NoiseRamp,
            NoiseRegularize = job.NoiseRegularize, MseWeight = job.Mse, WPlus = job.WPlus,
        }, perceptual);
        var sw = Stopwatch.StartNew();
        var r = projector.Project(target, new RandomProjectorDraws(job.Seed),
            new Pipeline.Worker.Cli.Metrics.SyncProgress<int>(i => context.ReportProgress(0.95 * (i + 1) / job.Steps)), cancellationToken);
        double seconds = sw.Elapsed.TotalSeconds;

        var latent = r.Latent[0].cpu().contiguous();
        await context.WriteOutputAsync("latent.npy", ToBytes(".npy", p => Npy.Save(p, latent)), "application/octet-stream", "latent", cancellationToken);
        var tree = new OrderedDictionary<string, object?>
        {
            ["img"] = r.Image[0].cpu().contiguous(),
            ["latent"] = latent,
            ["noise"] = r.Noises.Select(n => (object?)n.narrow(0, 0, 1).cpu().contiguous()).ToList(),
        };
        await context.WriteOutputAsync("projection.pt", ToBytes(".pt", p => TorchFile.Save(p, tree)), "application/octet-stream", "latent", cancellationToken);
        await context.WriteOutputAsync("projected.png", Sg2Images.EncodePng(r.Image[0]), "image/png", "image", cancellationToken);
        var csv = new StringBuilder("step,lr,noise_strength,loss,mse,noise_reg,perceptual\n");
        foreach (var h in r.History)
            csv.AppendLine(string.Join(',', new double[] { h.Step, h.Lr, h.NoiseStrength, h.Loss, h.Mse, h.NoiseReg, h.Perceptual }.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
        await context.WriteOutputAsync("loss.csv", Encoding.UTF8.GetBytes(csv.ToString()), "text/csv", "log", cancellationToken);
        await context.WriteOutputAsync("loss.png", ToBytes(".png", p => LossPlot.Save([(Path.GetFileName(job.Input.Path), r.History)], p)), "image/png", "plot", cancellationToken);
        context.ReportProgress(1);
        var last = r.History[^1];
        return new Dictionary<string, double>
        {
            ["steps"] = job.Steps,
            ["steps_per_second"] = job.Steps / Math.Max(seconds, 1e-9),
            ["final_loss"] = last.Loss,
            ["final_mse"] = last.Mse,
            ["lpips_used"] = perceptual is null ? 0 : 1,
        };
    }

    private static byte[] ToBytes(string extension, Action<string> write)
    {
        var tmp = Path.Combine(Path.GetTempPath(), $"sg2-{Guid.NewGuid():N}{extension}");
        try { write(tmp); return File.ReadAllBytes(tmp); }
        finally { File.Delete(tmp); }
    }
}
