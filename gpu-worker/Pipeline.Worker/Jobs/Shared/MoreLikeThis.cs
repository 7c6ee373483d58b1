using System.Globalization;
using Pipeline.Infra.Contracts;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.Shared;

/// <summary>
/// "More like this" (<see cref="AugmentationBatchJob.BaseSeed"/>, <see cref="AugmentationBatchJob.Variation"/>) for
/// StyleGAN v1 and v2 batches: which first latent z each image gets. Without BaseSeed image i keeps z(Seed + i).
/// </summary>
public static class MoreLikeThis
{
    /// <summary>Throws <see cref="PermanentJobException"/> for settings no rerun can fix.</summary>
    public static void Validate(AugmentationBatchJob job)
    {
        if (job.Variation is { } v)
        {
            if (job.BaseSeed is null)
                throw new PermanentJobException($"Variation {v.ToString(CultureInfo.InvariantCulture)} needs a BaseSeed: it says how far each image moves away from the base image's latent");
            if (!(v > 0 && v <= 1))
                throw new PermanentJobException($"Variation must be in (0, 1] (0.1 = close to the base image, 1 = unrelated), not {v.ToString(CultureInfo.InvariantCulture)}");
        }
        if (job.BaseSeed is not null && job.Operation is not (AugmentationOp.Sample or AugmentationOp.Truncation or AugmentationOp.StyleMixing))
            throw new PermanentJobException($"BaseSeed ('more like this') works with Sample, Truncation and StyleMixing batches, not {job.Operation}: a SOAT image is made of several latents, so it has no single base latent");
    }

    /// <summary>
    /// First latents [seeds.Count, D] for images with the given seeds: z(seed) without BaseSeed, z(BaseSeed) without
    /// Variation, else sqrt(1-v²)·z(BaseSeed) + v·z(seed) (variance-preserving, so the latents stay on the N(0, I)
    /// prior; v = 1 gives z(seed) exactly). <paramref name="latentOf"/> maps a seed to its [1, D] z.
    /// </summary>
    public static Tensor FirstLatents(AugmentationBatchJob job, IReadOnlyList<long> seeds, Func<long, Tensor> latentOf)
    {
        using var scope = NewDisposeScope();
        Tensor z;
        if (job.BaseSeed is not { } baseSeed) z = cat(seeds.Select(latentOf).ToArray(), 0);
        else if (job.Variation is not { } v) z = cat(Enumerable.Repeat(latentOf(baseSeed), seeds.Count).ToArray(), 0);
        else z = latentOf(baseSeed) * Math.Sqrt(1 - v * v) + cat(seeds.Select(latentOf).ToArray(), 0) * v;
        return z.MoveToOuterDisposeScope();
    }

    /// <summary>Adds "baseSeed" and "variation" to an item's attributes when the batch uses them.</summary>
    public static void Annotate(AugmentationBatchJob job, IDictionary<string, string> attributes)
    {
        if (job.BaseSeed is { } b) attributes["baseSeed"] = b.ToString(CultureInfo.InvariantCulture);
        if (job.Variation is { } v) attributes["variation"] = v.ToString(CultureInfo.InvariantCulture);
    }
}
