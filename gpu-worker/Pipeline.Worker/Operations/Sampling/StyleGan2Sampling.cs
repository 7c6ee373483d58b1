using Pipeline.Engine;
using Pipeline.Engine.StyleGan2;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Worker.Operations.Sampling;

/// <summary>
/// What a StyleGAN2 sample asks for, whether it comes from an augmentation job (Sample, Truncation, StyleMixing) or
/// from `pipeline generate`: the same request gives the same images from either.
/// </summary>
public sealed record StyleGan2SampleRequest
{
    /// <summary>One image per seed; z of a seed is <see cref="SeededLatents.Z(long, int)"/>.</summary>
    public required IReadOnlyList<long> Seeds { get; init; }
    /// <summary>Truncation psi (1 = none).</summary>
    public double Truncation { get; init; } = 1;
    /// <summary>z draws (seed 0) for the truncation mean, generate.py's --truncation_mean.</summary>
    public int TruncationMeanSamples { get; init; } = 4096;
    /// <summary>Style-mixing partners: image i mixes with MixSeeds[i mod count]; null or empty = no mixing.</summary>
    public IReadOnlyList<long>? MixSeeds { get; init; }
    /// <summary>Mixing crossover row; null = Random(seed).Next(1, n_latent) per image, so a seed always mixes the same way.</summary>
    public int? InjectIndex { get; init; }
    /// <summary>Fresh noise per image (generate.py's default, not reproducible) instead of the stored noise buffers.</summary>
    public bool RandomNoise { get; init; }
    /// <summary>
    /// Images per forward pass (without mixing; a mixed image is its own pass, its crossover being its own). Part of the
    /// settings: a pass of 4 rounds differently from a pass of 1 in the last float bits, so bytes match across entry
    /// points for the same split (generate's default --batch 16 is the worker's default MaxBatch).
    /// </summary>
    public int Batch { get; init; } = 16;
}

/// <summary>One sampled image: [1, 3, H, W] on the CPU in the generator's [-1, 1] range (unclamped), and how it was mixed.</summary>
public sealed record StyleGan2Sample(long Seed, Tensor Image, long? MixSeed, int? InjectIndex);

/// <summary>The one StyleGAN2 sampler of augmentation jobs and `pipeline generate`.</summary>
public static class StyleGan2Sampling
{
    /// <summary>
    /// The truncation centre, or null when psi is 1. One rule for every entry point, as the reference generate.py:
    /// mean_latent(truncation_mean), with the z draws seeded (seed 0) so the centre, and so every truncated image, is
    /// the same on each run. A checkpoint's latent_avg is not used: generate.py ignores it (only convert_weight.py's own
    /// check reads it), and a rule that depends on the file's layout would let two files with the same weights differ.
    /// </summary>
    public static Tensor? TruncationMean(Generator g, StyleGan2SampleRequest request, Device dev) =>
        TruncationMean(g, request.Truncation, request.TruncationMeanSamples, dev);

    /// <summary>The same rule for callers without a request (metrics jobs' generated images).</summary>
    public static Tensor? TruncationMean(Generator g, double truncation, int samples, Device dev)
    {
        if (truncation == 1) return null;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return g.MeanLatent(SeededLatents.Z(0, samples, g.Config.StyleDim, dev)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Samples the request batch by batch (the caller reports progress and encodes between batches, and owns the
    /// yielded images). <paramref name="firstLatents"/> replaces the seeds' z of a batch (a job's "more like this").
    /// The caller holds the generator's lock while enumerating, as every user of a shared module does.
    /// </summary>
    public static IEnumerable<IReadOnlyList<StyleGan2Sample>> Sample(Generator g, StyleGan2SampleRequest request, Device dev,
        Func<long[], Tensor>? firstLatents = null)
    {
        Validate(g, request);
        var mean = TruncationMean(g, request, dev);
        try
        {
            int bs = Math.Max(1, request.Batch);
            for (int start = 0; start < request.Seeds.Count; start += bs)
                yield return Batch(g, request, start, Math.Min(bs, request.Seeds.Count - start), mean, dev, firstLatents);
        }
        finally
        {
            mean?.Dispose();
        }
    }

    /// <summary>Checks the request against the generator before any work: a bad crossover is the caller's input error.</summary>
    public static void Validate(Generator g, StyleGan2SampleRequest request)
    {
        if (request.Seeds.Count == 0) throw new ArgumentException("no images requested");
        if (request.Truncation is <= 0 or > 2) throw new ArgumentException($"truncation must be in (0, 2], not {request.Truncation}");
        int n = g.Config.NLatent;
        if (request.InjectIndex is { } k && (k < 1 || k >= n))
            throw new ArgumentException($"the mixing crossover must be 1..{n - 1} for this {g.Config.Size} px generator, not {k}");
    }

    /// <summary>One batch, synchronous so its dispose scope never spans a yield.</summary>
    private static List<StyleGan2Sample> Batch(Generator g, StyleGan2SampleRequest r, int start, int count, Tensor? mean, Device dev,
        Func<long[], Tensor>? firstLatents)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var seeds = r.Seeds.Skip(start).Take(count).ToArray();
        var z = (firstLatents?.Invoke(seeds) ?? SeededLatents.Z(seeds, g.Config.StyleDim)).to(dev);
        var opts = new GenerateOptions { Truncation = r.Truncation, TruncationLatent = mean, RandomizeNoise = r.RandomNoise };
        var result = new List<StyleGan2Sample>(count);
        if (r.MixSeeds is not { Count: > 0 } mix)
        {
            var img = g.Forward([z], opts).Image.cpu();
            for (int i = 0; i < count; i++) result.Add(new(seeds[i], img.narrow(0, i, 1).MoveToOuterDisposeScope(), null, null));
            return result;
        }
        for (int i = 0; i < count; i++)
        {
            long partner = mix[(start + i) % mix.Count];
            int inject = r.InjectIndex ?? new Random(unchecked((int)seeds[i])).Next(1, g.Config.NLatent);
            var z2 = SeededLatents.Z(partner, g.Config.StyleDim).to(dev);
            var img = g.Forward([z.narrow(0, i, 1), z2], opts with { InjectIndex = inject }).Image.cpu();
            result.Add(new(seeds[i], img.MoveToOuterDisposeScope(), partner, inject));
        }
        return result;
    }
}
