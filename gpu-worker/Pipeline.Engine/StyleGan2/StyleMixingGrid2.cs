using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>What to render: rows are source A (every latent row outside the range), columns source B (the rows inside it).</summary>
public sealed record StyleMixingGrid2Options
{
    /// <summary>Seeds of the row sources (A). Each seed gives z = randn(1, D) from a CPU generator seeded with it.</summary>
    public required IReadOnlyList<long> RowSeeds { get; init; }

    /// <summary>Seeds of the column sources (B).</summary>
    public required IReadOnlyList<long> ColumnSeeds { get; init; }

    /// <summary>Levels (level i = 4 * 2^i px) whose latent rows come from the column source; see <see cref="StyleMixingGrid2.RangeRows"/>.</summary>
    public MixingRange Range { get; init; } = MixingRange.Coarse;

    /// <summary>Truncation psi towards the mean latent; 1 disables truncation.</summary>
    public double Truncation { get; init; } = 0.7;

    /// <summary>mean_latent from this many z drawn from a CPU generator seeded with <see cref="MeanLatentSeed"/> (generate.py: 4096).</summary>
    public long MeanLatentSeed { get; init; }
    public int MeanLatentSamples { get; init; } = 4096;

    /// <summary>Images per generator call.</summary>
    public int BatchSize { get; init; } = 16;
}

/// <summary>
/// Style-mixing grids from a StyleGAN2 generator. Every image is rendered from a W+ latent [N, n_latent, D]
/// (input_is_latent), so any set of latent rows can come from the column source, not only a suffix as with
/// inject_index. Noise is the generator's stored buffers, so a grid is a pure function of weights and seeds.
/// </summary>
public static class StyleMixingGrid2
{
    /// <summary>
    /// The level (resolution 4 * 2^level px) of W+ row <paramref name="row"/>: the resolution of the feature map the
    /// row modulates. Row 0 feeds conv1 (4 px); row 1 to_rgb1 and the upsampling conv that reads the 4 px map;
    /// then per block j (output 2^(j+3) px) rows 1+2j, 2+2j, 3+2j, where 3+2j (to_rgbs[j] and the next block's
    /// upsampling conv) reads the block's own output. So two rows per resolution, as the official StyleGAN ranges.
    /// </summary>
    public static int LatentLevel(int row) => row / 2;

    /// <summary>Pixel size of <see cref="LatentLevel"/>.</summary>
    public static int LatentResolution(int row) => 4 << LatentLevel(row);

    /// <summary>The output level of a generator (its size is 4 * 2^level px).</summary>
    public static int OutputLevel(GeneratorConfig config) => config.LogSize - 2;

    /// <summary>W+ rows whose level lies in the range. A range with no row in this generator is an error.</summary>
    public static int[] RangeRows(GeneratorConfig config, MixingRange range)
    {
        var rows = Enumerable.Range(0, config.NLatent).Where(k => range.Contains(LatentLevel(k))).ToArray();
        if (rows.Length == 0)
            throw new ArgumentException($"mixing range {range.Name} (levels {range.Lo}-{range.Hi}, {4 << Math.Max(range.Lo, 0)} px and up) has no latent row in this {config.Size} px StyleGAN2 generator (levels 0-{OutputLevel(config)}): choose a coarser range");
        return rows;
    }

    /// <summary>mean_latent over <see cref="StyleMixingGrid2Options.MeanLatentSamples"/> seeded z ([1, D], on the generator's device).</summary>
    public static Tensor MeanLatent(Generator g, long seed, int samples)
    {
        return g.MeanLatent(SeededLatents.Z(seed, samples, g.Config.StyleDim, g.Device));
    }

    public static StyleMixingGridResult Render(Generator g, StyleMixingGrid2Options o, IProgress<(int Done, int Total)>? progress = null, CancellationToken ct = default)
    {
        if (o.RowSeeds.Count == 0 || o.ColumnSeeds.Count == 0) throw new ArgumentException("a grid needs at least one row seed and one column seed");
        if (o.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(o), "batch size must be positive");
        if (o.Truncation is <= 0 or > 2) throw new ArgumentOutOfRangeException(nameof(o), $"truncation must be in (0, 2], not {o.Truncation}");
        if (o.Truncation != 1 && o.MeanLatentSamples < 1) throw new ArgumentOutOfRangeException(nameof(o), "truncation needs at least one mean-latent sample");
        var inRange = RangeRows(g.Config, o.Range).ToHashSet();
        int nLatent = g.Config.NLatent, d = g.Config.StyleDim;
        var rangeMask = Enumerable.Range(0, nLatent).Select(inRange.Contains).ToArray();

        var device = g.Device;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        int rows = o.RowSeeds.Count, cols = o.ColumnSeeds.Count, total = rows + cols + rows * cols;
        Tensor? mean = o.Truncation == 1 ? null : MeanLatent(g, o.MeanLatentSeed, o.MeanLatentSamples);
        Tensor Latents(IReadOnlyList<long> seeds)
        {
            var w = g.Map(cat(seeds.Select(s => SeededLatents.Z(s, d)).ToArray(), 0).to(device));
            return mean is null ? w : mean + o.Truncation * (w - mean);
        }
        var wa = Latents(o.RowSeeds);
        var wb = Latents(o.ColumnSeeds);
        var noise = g.NoiseBuffersList;

        int done = 0;
        // An item is (row index or -1, column index or -1); -1 on one side renders the other source unmixed.
        Tensor Render(IReadOnlyList<(int A, int B)> items)
        {
            var outs = new List<Tensor>();
            for (int start = 0; start < items.Count; start += o.BatchSize)
            {
                ct.ThrowIfCancellationRequested();
                var batch = items.Skip(start).Take(o.BatchSize).ToArray();
                var a = wa.index_select(0, tensor(batch.Select(x => (long)Math.Max(x.A, 0)).ToArray(), device: device));
                var b = wb.index_select(0, tensor(batch.Select(x => (long)Math.Max(x.B, 0)).ToArray(), device: device));
                var mask = batch.SelectMany(x => rangeMask.Select(m => x.A < 0 || (x.B >= 0 && m))).ToArray();
                var fromB = tensor(mask, device: device).reshape(batch.Length, nLatent, 1);
                var wPlus = where(fromB, b.unsqueeze(1), a.unsqueeze(1));
                outs.Add(g.Forward([wPlus], new GenerateOptions { InputIsLatent = true, Noise = noise }).Image);
                done += batch.Length;
                progress?.Report((done, total));
            }
            return cat(outs, 0).cpu();
        }

        var rowImages = Render(Enumerable.Range(0, rows).Select(r => (r, -1)).ToArray());
        var colImages = Render(Enumerable.Range(0, cols).Select(c => (-1, c)).ToArray());
        var pairs = Enumerable.Range(0, rows).SelectMany(r => Enumerable.Range(0, cols).Select(c => (r, c))).ToArray();
        var cells = Render(pairs);
        int level = OutputLevel(g.Config);
        var info = pairs.Select(p => new StyleMixingCell(p.r, p.c, o.RowSeeds[p.r], o.ColumnSeeds[p.c], o.Range.Name,
            Math.Max(o.Range.Lo, 0), Math.Min(o.Range.Hi, level), o.Truncation, NoiseSeed: -1)).ToArray();
        return new StyleMixingGridResult
        {
            RowImages = rowImages.MoveToOuterDisposeScope(),
            ColumnImages = colImages.MoveToOuterDisposeScope(),
            Cells = cells.MoveToOuterDisposeScope(),
            CellInfo = info,
            Resolution = g.Config.Size,
        };
    }
}
