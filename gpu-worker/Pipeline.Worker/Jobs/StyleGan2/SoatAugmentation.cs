using System.Globalization;
using Pipeline.Engine;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Jobs.Shared;
using Pipeline.Worker.Operations.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.StyleGan2;

/// <summary>
/// SOAT panoramas and blends of an augmentation batch (no CLI counterpart runs batches of them): image i from seed
/// Seed + i, blend partner Seed + Count + i, panorama latents seed*1000+k.
/// </summary>
internal static class SoatAugmentation
{
    /// <summary>SOAT panoramas and blends, batch by batch.</summary>
    public static List<(byte[], long, Dictionary<string, string>)> Render(Pipeline.Engine.StyleGan2.Generator g, AugmentationBatchJob job, JobContext context, Device dev, CancellationToken ct)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        double psi = job.Truncation;
        var images = new List<(byte[], long, Dictionary<string, string>)>();
        for (int start = 0; start < job.Count; start += context.MaxBatch)
        {
            ct.ThrowIfCancellationRequested();
            int n = Math.Min(context.MaxBatch, job.Count - start);
            using var batchScope = NewDisposeScope();
            var seeds = Enumerable.Range(start, n).Select(i => job.Seed + i).ToArray();
            var z = MoreLikeThis.FirstLatents(job, seeds, s => SeededLatents.Z(s, 1, g.Config.StyleDim, dev));
            images.AddRange(Batch(g, job, z, seeds, psi, dev));
            context.ReportProgress(0.9 * (start + n) / job.Count);
        }
        return images;
    }

    private static IEnumerable<(byte[], long, Dictionary<string, string>)> Batch(Pipeline.Engine.StyleGan2.Generator g, AugmentationBatchJob job, Tensor z, long[] seeds, double psi, Device dev)
    {
        var baseAttrs = StyleGan2AugmentationHandler.BaseAttributes(g, job, psi);
        switch (job.Operation)
        {
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
