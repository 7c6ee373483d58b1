using System.Text;
using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs.Shared;
using Pipeline.Worker.Operations.Imaging;
using Pipeline.Worker.Operations.Inputs;
using Pipeline.Worker.Operations.Projection;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.StyleGan2;

/// <summary>
/// StyleGAN2 projection (projector.py) of an uploaded image, batched with concurrent projection jobs of the same
/// model. Outputs: latent.npy and latent.pt (w or W+ as projector.py saves it), noises.safetensors,
/// reconstruction.png, target.png, face.json, history.json, and a distance report that flags images that project so
/// well they probably came from the generator (StyleGAN2 paper, section 5: LPIPS distance of the projection).
/// </summary>
public sealed class ProjectionHandler(EngineDevice device, ProjectionBatcher batcher, PerceptualLossProvider lpips, FacePreparation faces) : IJobHandler
{
    /// <summary>LPIPS below this marks an image as likely generated (the paper's generated images project far closer than real ones).</summary>
    public const double GeneratedLpipsThreshold = 0.15;

    public bool CanHandle(JobSpec job) => job is ProjectionJob;

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (ProjectionJob)context.Job;
        if (job.Steps is { } asked && JobLimits.CheckProjectionSteps(asked) is { } bad) throw new PermanentJobException(bad);
        using var model = await context.Models.GetAsync(job.Model, f => StyleGan2Checkpoint.Load(f.LocalPath), cancellationToken);
        var g = model.Model.Generator;
        lock (g) g.to(torch.device(device.Name));
        using var encoderLease = await LoadEncoderAsync(context.Models, job, cancellationToken);
        var encoder = encoderLease?.Model;
        if (encoder is not null) lock (encoder) encoder.to(torch.device(device.Name));
        var start = encoder is null ? ProjectionInit.Mean : ProjectionInit.Encoder;
        int steps = job.Steps ?? ProjectionInits.DefaultSteps(start);
        var (perceptual, missing) = await lpips.GetAsync();
        // The one preparation `pipeline project` uses too: decode + orientation, face alignment, Pillow-exact resize.
        var (target, prepared) = ProjectionInput.Prepare(await context.ReadInputAsync(job.Input, cancellationToken), job.AlignFace,
            ProjectionInput.Resolution(g.Config.Size), faces);
        var options = new ProjectorOptions
        {
            Steps = steps,
            Lr = job.LearningRate,
            Noise = job.Noise ?? ProjectionInits.DefaultNoise(start),
            NoiseRamp = job.NoiseRamp,
            NoiseRegularize = job.NoiseRegularize,
            // The encoder predicts one w per layer, so its start is only meaningful (and kept) in W+.
            WPlus = job.WPlus || encoder is not null,
            // Without LPIPS weights the projector can only fit pixels; projector.py's --mse term carries the loss.
            MseWeight = perceptual is null ? Math.Max(job.Mse, 1.0) : job.Mse,
        };
        context.ReportProgress(0.1);
        ProjectionBatcher.Share share;
        try
        {
            // context.MaxBatch: the runner halves it after an out-of-memory error, and the batch must shrink with it.
            share = await batcher.ProjectAsync(g, options, perceptual, target, job.Seed, context.MaxBatch, cancellationToken, encoder);
        }
        catch
        {
            target.Dispose(); // the batcher has stacked its own copy, or never will
            throw;
        }
        // Everything that touches tensors happens synchronously here: a dispose scope must not span an await, or the
        // thread's next user (another job) would have its tensors registered in this scope and freed with it.
        List<(string Name, byte[] Bytes, string ContentType, string Role)> outputs;
        double mse;
        double? lp;
        try
        {
            (outputs, mse, lp) = Render(job, share, target, perceptual);
        }
        finally
        {
            share.Latent.Dispose();
            share.Image.Dispose();
            foreach (var n in share.Noises) n.Dispose();
            target.Dispose();
        }
        foreach (var o in outputs) await context.WriteOutputAsync(o.Name, o.Bytes, o.ContentType, o.Role, cancellationToken);
        await context.WriteOutputAsync("face.json", FacePreparation.ToJson(prepared), "application/json", "face", cancellationToken);
        var report = new
        {
            mse,
            init = encoder is null ? "mean" : "encoder",
            steps,
            lr = options.Lr,
            latentNoise = options.Noise,
            lpips = lp,
            lpipsUnavailable = missing,
            likelyGenerated = lp is null ? (bool?)null : lp < GeneratedLpipsThreshold,
            threshold = GeneratedLpipsThreshold,
            batchSize = share.BatchSize,
            history = share.History,
        };
        await context.WriteOutputAsync("projection.json", JsonSerializer.SerializeToUtf8Bytes(report, new JsonSerializerOptions { WriteIndented = true }), "application/json", "report", cancellationToken);
        var metrics = new Dictionary<string, double> { ["mse"] = mse, ["steps"] = steps, ["batch_size"] = share.BatchSize, ["encoder_init"] = encoder is null ? 0 : 1 };
        if (lp is { } l) metrics["lpips"] = l;
        return metrics;
    }

    /// <summary>
    /// The encoder for this job: <c>&lt;model&gt;.encoder.pt</c> next to the generator blob, used when the job asks for it
    /// or leaves <see cref="ProjectionJob.Init"/> unset and the file exists; null for a mean-latent start.
    /// </summary>
    internal static async Task<Models.ModelLease<StyleEncoder>?> LoadEncoderAsync(Jobs.ModelCache models, ProjectionJob job, CancellationToken ct)
    {
        var blob = new BlobRef(EncoderCheckpoint.PathFor(job.Model.Path).Replace('\\', '/'));
        bool available = await models.ExistsAsync(blob, ct);
        ProjectionInit init;
        try { init = ProjectionInits.Resolve(job.Init, available); }
        catch (ArgumentException e) { throw new PermanentJobException(e.Message, e); }
        if (init == ProjectionInit.Mean) return null;
        return await models.GetAsync(blob, f => EncoderCheckpoint.Load(f.LocalPath).Encoder, ct);
    }

    private (List<(string, byte[], string, string)> Outputs, double Mse, double? Lpips) Render(ProjectionJob job, ProjectionBatcher.Share share, Tensor target, Pipeline.Engine.IPerceptualLoss? perceptual)
    {
        using var scope = NewDisposeScope();
        double mse = (share.Image.clamp(-1, 1) - target).pow(2).mean().item<float>();
        double? lp = null;
        if (perceptual is not null)
            lock (perceptual) lp = perceptual.Distance(share.Image.unsqueeze(0).to(torch.device(device.Name)), target.unsqueeze(0).to(torch.device(device.Name))).cpu().item<float>();

        var outputs = new List<(string, byte[], string, string)>();
        var tmp = Directory.CreateTempSubdirectory("projection-");
        try
        {
            var npy = Path.Combine(tmp.FullName, "latent.npy");
            Npy.Save(npy, share.Latent);
            outputs.Add(("latent.npy", File.ReadAllBytes(npy), "application/octet-stream", "latent"));
            var pt = Path.Combine(tmp.FullName, "latent.pt");
            // projector.py saves {img_name: {"img", "latent", "noise"}}; we keep that layout for one image.
            TorchFile.Save(pt, new OrderedDictionary<string, object?>
            {
                [Path.GetFileName(job.Input.Path)] = new OrderedDictionary<string, object?>
                {
                    ["img"] = share.Image.unsqueeze(0),
                    ["latent"] = share.Latent,
                    ["noise"] = share.Noises.Select(n => (object?)n.unsqueeze(0)).ToList(),
                },
            });
            outputs.Add(("latent.pt", File.ReadAllBytes(pt), "application/octet-stream", "latent"));
            var st = Path.Combine(tmp.FullName, "noises.safetensors");
            SafeTensors.Save(st, share.Noises.Select((n, i) => KeyValuePair.Create($"noise_{i}", n)));
            outputs.Add(("noises.safetensors", File.ReadAllBytes(st), "application/octet-stream", "noise"));
        }
        finally
        {
            tmp.Delete(recursive: true);
        }
        outputs.Add(("reconstruction.png", GeneratorImages.EncodePng(share.Image), "image/png", "reconstruction"));
        outputs.Add(("target.png", GeneratorImages.EncodePng(target), "image/png", "model-input"));
        return (outputs, mse, lp);
    }
}
