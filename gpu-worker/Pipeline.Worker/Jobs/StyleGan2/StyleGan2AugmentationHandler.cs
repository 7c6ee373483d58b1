using Pipeline.Engine;
using System.Diagnostics;
using System.Globalization;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs.Shared;
using Pipeline.Worker.Operations.Imaging;
using Pipeline.Worker.Operations.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.StyleGan2;

/// <summary>
/// Augmentation batches from StyleGAN2 checkpoints: Sample, Truncation, StyleMixing (crossover per image), SOAT
/// panoramas and SOAT blends. Image i uses z from seed Seed + i (mixing/blending partners: Seed + Count + i), or a
/// first latent near BaseSeed's ("more like this", <see cref="MoreLikeThis"/>), the stored noise buffers
/// (deterministic), and the manifest records every setting, so any image can be regenerated. Each item gets a
/// thumbnail under thumbs/ for the gallery; the manifest is written last. Sample, Truncation and StyleMixing run the
/// sampling operation that `pipeline generate` runs (<see cref="StyleGan2Sampling"/>), so a seed gives the same image
/// from both; the SOAT operations are in <see cref="SoatAugmentation"/>.
/// </summary>
public sealed class StyleGan2AugmentationHandler(EngineDevice device) : IJobHandler
{
    public bool CanHandle(JobSpec job) => job is AugmentationBatchJob { Family: StyleGanFamily.StyleGan2 };

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (AugmentationBatchJob)context.Job;
        if (JobLimits.CheckAugmentationCount(job.Count) is { } bad) throw new PermanentJobException(bad);
        if (job.Truncation is <= 0 or > 2) throw new PermanentJobException($"Truncation must be in (0, 2], not {job.Truncation}");
        if (job.SecondModel is not null) throw new PermanentJobException("SoatBlend blends two latents of one generator; a second model (toonify) is not supported in batches");
        MoreLikeThis.Validate(job);
        using var model = await context.Models.GetAsync(job.Model, f => StyleGan2Checkpoint.Load(f.LocalPath), cancellationToken);
        var g = model.Model.Generator;
        var dev = torch.device(device.Name);
        var images = new List<(byte[] Png, long Seed, Dictionary<string, string> Attributes)>();
        var sw = Stopwatch.StartNew();
        await Task.Run(() =>
        {
            lock (g)
            {
                g.to(dev);
                if (job.Operation is AugmentationOp.Sample or AugmentationOp.Truncation or AugmentationOp.StyleMixing)
                    images.AddRange(Sample(g, job, context, dev, cancellationToken));
                else
                    images.AddRange(SoatAugmentation.Render(g, job, context, dev, cancellationToken));
            }
        }, cancellationToken);
        var seconds = sw.Elapsed.TotalSeconds;

        var items = new List<DatasetItem>();
        for (int i = 0; i < images.Count; i++)
        {
            var path = BlobLayout.DatasetItem(job.BatchId, $"{i:D5}.png");
            await context.WriteAsync(path, images[i].Png, "image/png", "dataset-item", cancellationToken);
            var thumb = Thumbnails.PathOf(job.BatchId, i);
            await context.WriteAsync(thumb, Thumbnails.FromEncoded(images[i].Png), "image/jpeg", "thumbnail", cancellationToken);
            items.Add(new DatasetItem(path, images[i].Seed, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(images[i].Png)), images[i].Attributes, thumb));
        }
        // The manifest is the batch's commit marker: readers (gallery, FID) only see items and thumbnails listed in it.
        var manifest = new DatasetManifest { BatchId = job.BatchId, JobId = context.JobId, Job = job, Items = items, CreatedAt = DateTimeOffset.UtcNow };
        await context.WriteAsync(BlobLayout.DatasetManifest(job.BatchId), JobJson.ToUtf8(manifest), "application/json", "manifest", cancellationToken);
        return new Dictionary<string, double>
        {
            ["images"] = images.Count,
            ["images_per_second"] = images.Count / Math.Max(seconds, 1e-9),
            ["resolution"] = g.Config.Size,
        };
    }

    /// <summary>Sample, Truncation and StyleMixing: the sampling operation that `pipeline generate` runs too.</summary>
    private static List<(byte[], long, Dictionary<string, string>)> Sample(Pipeline.Engine.StyleGan2.Generator g, AugmentationBatchJob job, JobContext context, Device dev, CancellationToken ct)
    {
        var seeds = Enumerable.Range(0, job.Count).Select(i => job.Seed + i).ToArray();
        var request = new StyleGan2SampleRequest
        {
            Seeds = seeds,
            Truncation = job.Operation is AugmentationOp.Sample ? 1 : job.Truncation,
            TruncationMeanSamples = job.TruncationMeanSamples,
            // Image i mixes with seed Seed + Count + i.
            MixSeeds = job.Operation is AugmentationOp.StyleMixing ? seeds.Select(s => s + job.Count).ToArray() : null,
            InjectIndex = job.MixingCrossover,
            Batch = context.MaxBatch,
        };
        try { StyleGan2Sampling.Validate(g, request); }
        catch (ArgumentException e) { throw new PermanentJobException(e.Message, e); }
        var attrs = BaseAttributes(g, job, request.Truncation);
        var images = new List<(byte[], long, Dictionary<string, string>)>();
        foreach (var batch in StyleGan2Sampling.Sample(g, request, dev, s => MoreLikeThis.FirstLatents(job, s, x => SeededLatents.Z(x, 1, g.Config.StyleDim, dev))))
        {
            ct.ThrowIfCancellationRequested();
            foreach (var sample in batch)
            {
                using var image = sample.Image;
                var a = new Dictionary<string, string>(attrs);
                if (sample.MixSeed is { } mix)
                {
                    a["mixSeed"] = mix.ToString(CultureInfo.InvariantCulture);
                    a["injectIndex"] = sample.InjectIndex!.Value.ToString(CultureInfo.InvariantCulture);
                }
                images.Add((GeneratorImages.EncodePng(image), sample.Seed, a));
            }
            context.ReportProgress(0.9 * images.Count / job.Count);
        }
        return images;
    }

    internal static Dictionary<string, string> BaseAttributes(Pipeline.Engine.StyleGan2.Generator g, AugmentationBatchJob job, double psi)
    {
        var attrs = new Dictionary<string, string>
        {
            ["family"] = "stylegan2",
            ["operation"] = job.Operation.ToString(),
            ["truncation"] = psi.ToString(CultureInfo.InvariantCulture),
            ["resolution"] = g.Config.Size.ToString(CultureInfo.InvariantCulture),
            ["noise"] = "stored buffers",
        };
        MoreLikeThis.Annotate(job, attrs);
        return attrs;
    }
}
