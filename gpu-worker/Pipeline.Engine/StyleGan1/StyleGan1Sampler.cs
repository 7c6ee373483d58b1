using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>Seeded sampling options. An image is a function of (seed, truncation, step, noise seed) alone.</summary>
public sealed record StyleGan1SampleOptions
{
    public required IReadOnlyList<long> Seeds { get; init; }
    public required int Step { get; init; }

    /// <summary>Truncation psi (generate.py: 0.7); 1 disables it.</summary>
    public double Truncation { get; init; } = 0.7;

    /// <summary>Noise seed shared by all images; null seeds each image's noise with its own seed.</summary>
    public long? NoiseSeed { get; init; }

    /// <summary>Precomputed mean style [1, D] (e.g. cached per model); null computes generate.py's 10 x 1024 average from seed 0.</summary>
    public Tensor? MeanStyle { get; init; }

    public int BatchSize { get; init; } = 16;

    /// <summary>Style mixing: image j takes its styles from MixSeeds[j] at levels &gt;= Crossovers[j] (null: no mixing).</summary>
    public IReadOnlyList<long>? MixSeeds { get; init; }

    /// <summary>Per-image first level fed by the mix seed (1..Step for a visible mix; the reference's inject_index + 1).</summary>
    public IReadOnlyList<int>? Crossovers { get; init; }

    /// <summary>
    /// Explicit first latents z [Seeds.Count, CodeDim] (e.g. neighbours of one base latent); row j replaces the z of
    /// Seeds[j], which still seeds image j's noise. Null derives z from the seeds (<see cref="SeededLatents"/>).
    /// </summary>
    public Tensor? Latents { get; init; }
}

/// <summary>Seed -> image sampling for augmentation batches and galleries (the v1 counterpart of v2 sampling).</summary>
public static class StyleGan1Sampler
{
    /// <summary>Images [N, 3, 4*2^Step, 4*2^Step] on the CPU, in seed order, nominally in [-1, 1].</summary>
    public static Tensor Sample(StyledGenerator g, StyleGan1SampleOptions o, IProgress<(int Done, int Total)>? progress = null, CancellationToken ct = default)
    {
        if (o.Step < 0 || o.Step > g.Config.MaxStep)
            throw new ArgumentOutOfRangeException(nameof(o), $"step {o.Step} is outside 0..{g.Config.MaxStep} for this generator");
        var device = g.Device;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        Tensor? mean = o.Truncation == 1 ? null : o.MeanStyle?.to(device) ?? DefaultMeanStyle(g);
        if (o.MixSeeds is not null && (o.MixSeeds.Count != o.Seeds.Count || o.Crossovers?.Count != o.Seeds.Count))
            throw new ArgumentException("style mixing needs one mix seed and one crossover level per seed");
        if (o.Latents is not null && (o.Latents.dim() != 2 || o.Latents.shape[0] != o.Seeds.Count || o.Latents.shape[1] != g.Config.CodeDim))
            throw new ArgumentException($"Latents must be [{o.Seeds.Count}, {g.Config.CodeDim}] (one z per seed), not [{string.Join(", ", o.Latents.shape)}]");
        Tensor Styles(Tensor z)
        {
            var w = g.Map(z.to(device));
            return mean is null ? w : StyledGenerator.Truncate(w, mean, o.Truncation);
        }
        Tensor SeedLatents(IEnumerable<long> seeds) => SeededLatents.Z(seeds, g.Config.CodeDim);
        var outs = new List<Tensor>();
        for (int start = 0; start < o.Seeds.Count; start += Math.Max(1, o.BatchSize))
        {
            ct.ThrowIfCancellationRequested();
            var seeds = o.Seeds.Skip(start).Take(Math.Max(1, o.BatchSize)).ToArray();
            var noise = Enumerable.Range(0, o.Step + 1).Select(_ => new List<Tensor>()).ToArray();
            foreach (var s in seeds)
            {
                // Offset keeps an image's noise stream distinct from its latent stream when both use the image seed.
                using var gen = new torch.Generator((ulong)(o.NoiseSeed ?? s + 0x5EED));
                var maps = g.RandomNoise(1, o.Step, gen, device);
                for (int i = 0; i <= o.Step; i++) noise[i].Add(maps[i]);
            }
            var w = Styles(o.Latents is null ? SeedLatents(seeds) : o.Latents.narrow(0, start, seeds.Length));
            var levels = Enumerable.Repeat(w, o.Step + 1).ToArray();
            if (o.MixSeeds is not null)
            {
                var wb = Styles(SeedLatents(o.MixSeeds.Skip(start).Take(seeds.Length)));
                var cross = tensor(o.Crossovers!.Skip(start).Take(seeds.Length).Select(c => (long)c).ToArray(), device: device).unsqueeze(1);
                for (int i = 0; i <= o.Step; i++) levels[i] = where(cross <= i, wb, w);
            }
            outs.Add(g.Synthesis.ForwardLevels(levels, noise.Select(n => cat(n, 0)).ToArray(), o.Step).cpu());
            progress?.Report((start + seeds.Length, o.Seeds.Count));
        }
        return cat(outs, 0).MoveToOuterDisposeScope();
    }

    /// <summary>generate.py's get_mean_style (10 chunks of 1024 z) from a fixed seed, so it is the same on every run.</summary>
    public static Tensor DefaultMeanStyle(StyledGenerator g, long seed = 0)
    {
        using var gen = new torch.Generator((ulong)seed);
        return g.GetMeanStyle(Enumerable.Range(0, 10).Select(_ => randn(1024, g.Config.CodeDim, generator: gen).to(g.Device)).ToArray());
    }
}
