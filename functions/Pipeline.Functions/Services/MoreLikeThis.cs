using System.Globalization;
using Pipeline.Infra.Contracts;

namespace Pipeline.Functions.Services;

/// <summary>
/// "More like this" for a gallery image: a new augmentation batch from the same model and settings around the image's
/// latent. Seeds are not a neighbourhood (seed 41 and 42 give unrelated images), so "nearby" moves in z instead:
/// variations sqrt(1-v²)·z(seed) + v·z(new seed) (<see cref="AugmentationBatchJob.Variation"/>), and "coarse" keeps the
/// image's coarse styles (pose, face shape) and takes everything finer from new seeds (style mixing at the coarse
/// boundary). The batch id is derived from the source image, so asking twice gives the same job, not a second batch.
/// </summary>
public static class MoreLikeThis
{
    /// <summary>Images in a batch unless the request says otherwise.</summary>
    public const int DefaultCount = 8;
    /// <summary>Largest batch a visitor can ask for.</summary>
    public const int MaxCount = 64;
    /// <summary>How far "nearby" moves in z: close enough to keep the identity, far enough to see a difference.</summary>
    public const double NearbyVariation = 0.35;

    /// <summary>The modes a batch's images offer (empty for panoramas and blends, whose images are not one latent).</summary>
    public static IReadOnlyList<string> Modes(AugmentationBatchJob source) =>
        source.Operation is AugmentationOp.Sample or AugmentationOp.Truncation or AugmentationOp.StyleMixing ? ["nearby", "coarse"] : [];

    /// <summary>
    /// First style-mixing layer after the coarse styles (4-8 px): StyleGAN2 latent index 4 (conv1, to_rgb1, and the two
    /// 8 px convs use indices 0-3, as generate.py's coarse mixing); StyleGAN v1 level 2 (levels 0-1 are 4 and 8 px).
    /// </summary>
    public static int CoarseCrossover(StyleGanFamily family) => family == StyleGanFamily.StyleGan1 ? 2 : 4;

    /// <summary>The job for image <paramref name="index"/> of a batch; <see cref="ArgumentException"/> when the mode does not apply.</summary>
    public static AugmentationBatchJob Job(AugmentationBatchJob source, DatasetItem item, int index, string mode, int count = DefaultCount)
    {
        if (Modes(source).Count == 0)
            throw new ArgumentException($"{source.Operation} images are made from several latents; 'more like this' needs a single-latent image (Sample, Truncation or StyleMixing batches).");
        if (count is < 1 or > MaxCount) throw new ArgumentException($"count must be in 1..{MaxCount}.");
        // An image of a "more like this" batch was itself made around its batch's base latent: keep that anchor.
        long baseSeed = source.BaseSeed ?? item.Seed;
        var job = new AugmentationBatchJob
        {
            Model = source.Model,
            Family = source.Family,
            Size = source.Size,
            TruncationMeanSamples = source.TruncationMeanSamples,
            // A Sample image was made without truncation whatever the field says (the worker ignores it for Sample).
            Truncation = source.Operation == AugmentationOp.Sample ? 1 : source.Truncation,
            BaseSeed = baseSeed,
            Seed = item.Seed + 1,
            Count = count,
            BatchId = BatchId(source.BatchId, index, mode),
            Operation = AugmentationOp.Sample,
        };
        return mode switch
        {
            "nearby" => job with
            {
                Operation = job.Truncation == 1 ? AugmentationOp.Sample : AugmentationOp.Truncation,
                Variation = NearbyVariation,
            },
            "coarse" => job with { Operation = AugmentationOp.StyleMixing, MixingCrossover = CoarseCrossover(source.Family) },
            _ => throw new ArgumentException($"mode must be 'nearby' or 'coarse', not '{mode}'."),
        };
    }

    private static string BatchId(string source, int index, string mode)
    {
        var suffix = string.Create(CultureInfo.InvariantCulture, $"-more{index}-{mode}");
        var head = source.Length + suffix.Length > BlobNames.MaxIdLength ? source[..(BlobNames.MaxIdLength - suffix.Length)] : source;
        return head + suffix;
    }
}
