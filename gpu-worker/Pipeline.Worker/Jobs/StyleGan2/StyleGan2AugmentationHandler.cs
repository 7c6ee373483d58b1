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
/// thumbnail under thumbs/ for the gallery; the manifest is written last.
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
                using var _ = no_grad();
                using var scope = NewDisposeScope();
                var mean = job.Operation is AugmentationOp.Sample ? null : g.MeanLatent(SeededLatents.Z(0, job.TruncationMeanSamples, g.Config.StyleDim, dev));
                double psi = job.Operation is AugmentationOp.Sample ? 1 : job.Truncation;
                for (int start = 0; start < job.Count; start += context.MaxBatch)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int n = Math.Min(context.MaxBatch, job.Count - start);
                    using var batchScope = NewDisposeScope();
                    var seeds = Enumerable.Range(start, n).Select(i => job.Seed + i).ToArray();
                    var z = MoreLikeThis.FirstLatents(job, seeds, s => SeededLatents.Z(s, 1, g.Config.StyleDim, dev));
                    foreach (var (png, seed, attrs) in Render(g, job, z, seeds, mean, psi, dev))
                        images.Add((png, seed, attrs));
                    context.ReportProgress(0.9 * (start + n) / job.Count);
                }
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

    private static IEnumerable<(byte[], long, Dictionary<string, string>)> Render(Pipeline.Engine.StyleGan2.Generator g, AugmentationBatchJob job, Tensor z, long[] seeds, Tensor? mean, double psi, Device dev)
    {
        var baseAttrs = new Dictionary<string, string>
        {
            ["family"] = "stylegan2",
            ["operation"] = job.Operation.ToString(),
            ["truncation"] = psi.ToString(CultureInfo.InvariantCulture),
            ["resolution"] = g.Config.Size.ToString(CultureInfo.InvariantCulture),
            ["noise"] = "stored buffers",
        };
        MoreLikeThis.Annotate(job, baseAttrs);
        var opts = new GenerateOptions { Truncation = psi, TruncationLatent = mean, RandomizeNoise = false };
        switch (job.Operation)
        {
            case AugmentationOp.Sample:
            case AugmentationOp.Truncation:
            {
                var img = g.Forward([z], opts).Image;
                for (int i = 0; i < seeds.Length; i++) yield return (GeneratorImages.EncodePng(img[i]), seeds[i], new(baseAttrs));
                break;
            }
            case AugmentationOp.StyleMixing:
            {
                var partners = seeds.Select(s => s + job.Count).ToArray();
                var z2 = cat(partners.Select(s => SeededLatents.Z(s, 1, g.Config.StyleDim, dev)).ToArray(), 0);
                for (int i = 0; i < seeds.Length; i++)
                {
                    int inject = job.MixingCrossover ?? new Random(unchecked((int)seeds[i])).Next(1, g.Config.NLatent);
                    if (inject < 1 || inject >= g.Config.NLatent) throw new PermanentJobException($"MixingCrossover must be 1..{g.Config.NLatent - 1} for this {g.Config.Size} px generator");
                    var img = g.Forward([z.narrow(0, i, 1), z2.narrow(0, i, 1)], opts with { InjectIndex = inject }).Image;
                    yield return (GeneratorImages.EncodePng(img[0]), seeds[i], new(baseAttrs) { ["mixSeed"] = partners[i].ToString(CultureInfo.InvariantCulture), ["injectIndex"] = inject.ToString(CultureInfo.InvariantCulture) });
                }
                break;
            }
            case AugmentationOp.SoatPanorama:
            {
                var soat = new Soat(g);
                var meanStyles = soat.MeanStyles(SeededLatents.Z(0, job.TruncationMeanSamples, g.Config.StyleDim, dev));
                int n = Math.Max(2, job.PanoramaLatents);
                for (int i = 0; i < seeds.Length; i++)
                {
                    var zs = cat(Enumerable.Range(0, n).Select(k => SeededLatents.Z(seeds[i] * 1000 + k, 1, g.Config.StyleDim, dev)).ToArray(), 0);
                    var pano = soat.Panorama(zs, new PanoramaOptions(NumImages: n, Truncation: psi), meanStyles).Panorama;
                    yield return (GeneratorImages.EncodePng(pano[0]), seeds[i], new(baseAttrs) { ["panoramaLatents"] = n.ToString(CultureInfo.InvariantCulture), ["latentSeeds"] = $"{seeds[i]}*1000+k" });
                }
                break;
            }
            case AugmentationOp.SoatBlend:
            {
                var soat = new Soat(g);
                var meanStyles = psi == 1 ? null : soat.MeanStyles(SeededLatents.Z(0, job.TruncationMeanSamples, g.Config.StyleDim, dev));
                var partners = seeds.Select(s => s + job.Count).ToArray();
                var z2 = cat(partners.Select(s => SeededLatents.Z(s, 1, g.Config.StyleDim, dev)).ToArray(), 0);
                var s1 = soat.GetStyles(z, truncation: psi, meanStyles: meanStyles);
                var s2 = soat.GetStyles(z2, truncation: psi, meanStyles: meanStyles);
                for (int i = 0; i < seeds.Length; i++)
                {
                    var img = soat.Blend(Soat.IndexLayers(s1, i), Soat.IndexLayers(s2, i), BlendDirection.Horizontal);
                    yield return (GeneratorImages.EncodePng(img[0]), seeds[i], new(baseAttrs) { ["blendWithSeed"] = partners[i].ToString(CultureInfo.InvariantCulture), ["direction"] = "horizontal" });
                }
                break;
            }
            default:
                throw new PermanentJobException($"operation {job.Operation} is not supported for StyleGAN2");
        }
    }
}
