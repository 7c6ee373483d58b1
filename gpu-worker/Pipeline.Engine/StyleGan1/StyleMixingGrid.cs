using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>What to render: rows are source A (all levels outside the range), columns source B (the levels inside it).</summary>
public sealed record StyleMixingGridOptions
{
    /// <summary>Seeds of the row sources (A). Each seed gives z = randn(1, D) from a CPU generator seeded with it.</summary>
    public required IReadOnlyList<long> RowSeeds { get; init; }

    /// <summary>Seeds of the column sources (B).</summary>
    public required IReadOnlyList<long> ColumnSeeds { get; init; }

    /// <summary>Levels taken from the column source; coarse (4-8 px) by default, as generate.py.</summary>
    public MixingRange Range { get; init; } = MixingRange.Coarse;

    /// <summary>Output level: resolution 4 * 2^Step.</summary>
    public required int Step { get; init; }

    /// <summary>Truncation psi towards the mean style (generate.py: 0.7); 1 disables truncation.</summary>
    public double Truncation { get; init; } = 0.7;

    /// <summary>Seed of the noise maps, shared by every image of the grid so only the styles differ.</summary>
    public long NoiseSeed { get; init; }

    /// <summary>Seed and size of the z samples averaged into the mean style (generate.py: 10 x 1024).</summary>
    public long MeanStyleSeed { get; init; }
    public int MeanStyleChunks { get; init; } = 10;
    public int MeanStyleChunkSize { get; init; } = 1024;

    /// <summary>Images per generator call.</summary>
    public int BatchSize { get; init; } = 16;
}

/// <summary>One mixed image: row source A everywhere except the range's levels, which come from column source B.</summary>
public sealed record StyleMixingCell(int Row, int Column, long RowSeed, long ColumnSeed, string Range, int RangeLo, int RangeHi, double Truncation, long NoiseSeed);

/// <summary>The rendered grid. Tensors are [N, 3, H, W] on the CPU, values nominally in [-1, 1] (not clamped).</summary>
public sealed class StyleMixingGridResult : IDisposable
{
    public required Tensor RowImages { get; init; }
    public required Tensor ColumnImages { get; init; }

    /// <summary>Mixed images in row-major order (index = row * columns + column), matching <see cref="Cells"/>.</summary>
    public required Tensor Cells { get; init; }

    public required IReadOnlyList<StyleMixingCell> CellInfo { get; init; }
    public required int Resolution { get; init; }

    public void Dispose()
    {
        RowImages.Dispose();
        ColumnImages.Dispose();
        Cells.Dispose();
    }
}

/// <summary>Style-mixing grids from seeds, batched on the generator's device.</summary>
public static class StyleMixingGrid
{
    public static StyleMixingGridResult Render(StyledGenerator g, StyleMixingGridOptions o, IProgress<(int Done, int Total)>? progress = null, CancellationToken ct = default)
    {
        if (o.RowSeeds.Count == 0 || o.ColumnSeeds.Count == 0) throw new ArgumentException("a grid needs at least one row seed and one column seed");
        if (o.Step < 0 || o.Step > g.Config.MaxStep)
            throw new ArgumentOutOfRangeException(nameof(o), $"step {o.Step} is outside 0..{g.Config.MaxStep} for this generator");
        if (o.Range.Hi < 0 || o.Range.Lo > o.Step || o.Range.Lo > o.Range.Hi)
            throw new ArgumentException($"mixing range {o.Range.Name} (levels {o.Range.Lo}-{o.Range.Hi}) has no level at or below step {o.Step} ({4 << o.Step} px): choose a coarser range or a larger size");
        if (o.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(o), "batch size must be positive");

        var device = g.Device;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        int rows = o.RowSeeds.Count, cols = o.ColumnSeeds.Count, total = rows + cols + rows * cols;
        Tensor? mean = o.Truncation == 1 ? null : MeanStyle(g, o, device);
        Tensor Styles(IReadOnlyList<long> seeds)
        {
            var w = g.Map(cat(seeds.Select(s => SeededLatents.Z(s, g.Config.CodeDim)).ToArray(), 0).to(device));
            return mean is null ? w : StyledGenerator.Truncate(w, mean, o.Truncation);
        }
        var wa = Styles(o.RowSeeds);
        var wb = Styles(o.ColumnSeeds);
        Tensor[] noise;
        using (var gen = new torch.Generator((ulong)o.NoiseSeed))
            noise = g.RandomNoise(1, o.Step, gen, device);

        int done = 0;
        // Each image is described by (row index or -1, column index or -1): levels in the range use B, others A.
        Tensor Render(IReadOnlyList<(int A, int B)> items)
        {
            var outs = new List<Tensor>();
            for (int start = 0; start < items.Count; start += o.BatchSize)
            {
                ct.ThrowIfCancellationRequested();
                var batch = items.Skip(start).Take(o.BatchSize).ToArray();
                var ia = tensor(batch.Select(x => (long)Math.Max(x.A, 0)).ToArray(), device: device);
                var ib = tensor(batch.Select(x => (long)Math.Max(x.B, 0)).ToArray(), device: device);
                var a = wa.index_select(0, ia);
                var b = wb.index_select(0, ib);
                bool pureA = batch.All(x => x.B < 0), pureB = batch.All(x => x.A < 0);
                var levels = Enumerable.Range(0, o.Step + 1)
                    .Select(i => pureA ? a : pureB ? b : o.Range.Contains(i) ? b : a).ToArray();
                var n = batch.Length;
                var batchNoise = noise.Select(t => t.expand(n, -1, -1, -1)).ToArray();
                outs.Add(g.Synthesis.ForwardLevels(levels, batchNoise, o.Step).cpu());
                done += n;
                progress?.Report((done, total));
            }
            return cat(outs, 0);
        }

        var rowImages = Render(Enumerable.Range(0, rows).Select(r => (r, -1)).ToArray());
        var colImages = Render(Enumerable.Range(0, cols).Select(c => (-1, c)).ToArray());
        var pairs = Enumerable.Range(0, rows).SelectMany(r => Enumerable.Range(0, cols).Select(c => (r, c))).ToArray();
        var cells = Render(pairs);
        var info = pairs.Select(p => new StyleMixingCell(p.r, p.c, o.RowSeeds[p.r], o.ColumnSeeds[p.c], o.Range.Name, o.Range.Lo,
            Math.Min(o.Range.Hi, o.Step), o.Truncation, o.NoiseSeed)).ToArray();
        return new StyleMixingGridResult
        {
            RowImages = rowImages.MoveToOuterDisposeScope(),
            ColumnImages = colImages.MoveToOuterDisposeScope(),
            Cells = cells.MoveToOuterDisposeScope(),
            CellInfo = info,
            Resolution = 4 << o.Step,
        };
    }

    private static Tensor MeanStyle(StyledGenerator g, StyleMixingGridOptions o, Device device)
    {
        using var gen = new torch.Generator((ulong)o.MeanStyleSeed);
        var chunks = Enumerable.Range(0, o.MeanStyleChunks)
            .Select(_ => randn(o.MeanStyleChunkSize, g.Config.CodeDim, generator: gen).to(device)).ToArray();
        return g.GetMeanStyle(chunks);
    }

    /// <summary>
    /// The resolution a checkpoint was trained to, guessed from its weights: levels above it keep their initial
    /// noise strengths (exactly 0). Returns the last level with a non-zero noise weight, or the last level.
    /// </summary>
    public static int DetectTrainedStep(StyledGenerator g)
    {
        var sd = g.state_dict();
        for (int i = g.Config.MaxStep; i > 0; i--)
        {
            var p = $"generator.progression.{i}.";
            if (sd[p + "noise1.weight_orig"].abs().max().item<float>() != 0 || sd[p + "noise2.weight_orig"].abs().max().item<float>() != 0)
                return i;
        }
        return g.Config.MaxStep;
    }
}
