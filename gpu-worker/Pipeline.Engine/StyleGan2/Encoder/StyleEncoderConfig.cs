using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2.Encoder;

/// <summary>
/// Shape of a <see cref="StyleEncoder"/>. <see cref="StageChannels"/>[i] is the width of backbone stage i, which
/// halves the resolution, so there are log2(Size) - 2 stages and the last one is 4x4.
/// Rows [0, <see cref="CoarseRows"/>) of W+ are read from the 4x4 pyramid level, rows up to <see cref="MiddleRows"/>
/// from 8x8, the rest from 16x16 (pSp's coarse / middle / fine split).
/// </summary>
public sealed record StyleEncoderConfig(int Size, int NLatent, int StyleDim, IReadOnlyList<int> StageChannels, int StemChannels, int PyramidChannels, int CoarseRows, int MiddleRows)
{
    public int Stages => StageChannels.Count;

    /// <summary>Pyramid level (0 = 4x4, 1 = 8x8, 2 = 16x16) of W+ row <paramref name="row"/>.</summary>
    public int LevelOfRow(int row) => row < CoarseRows ? 0 : row < MiddleRows ? 1 : 2;

    /// <summary>The default for a generator: widths 32, 64, 128, 256, then 256 (small enough to train on a CPU at 64 px).</summary>
    public static StyleEncoderConfig For(GeneratorConfig g)
    {
        int size = Math.Min(g.Size, 256);
        int stages = GeneratorConfig.CheckedLog2(size) - 2;
        if (stages < 3) throw new ArgumentException($"the encoder needs a 32 px or larger generator (pyramid levels 4, 8, 16), got {g.Size}");
        var widths = Enumerable.Range(0, stages).Select(i => Math.Min(256, 32 << i)).ToArray();
        int coarse = Math.Min(3, g.NLatent), middle = Math.Min(6, g.NLatent);
        return new StyleEncoderConfig(size, g.NLatent, g.StyleDim, widths, 32, 64, coarse, middle);
    }

    /// <summary>Reads the shape back from a state_dict (key layout documented on <see cref="StyleEncoder"/>).</summary>
    public static StyleEncoderConfig FromStateDict(IReadOnlyDictionary<string, Tensor> sd)
    {
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t
            : throw new InvalidDataException($"not a StyleEncoder state_dict: missing '{key}' (found {sd.Count} keys, e.g. {string.Join(", ", sd.Keys.Take(5))})");
        var avg = Need("latent_avg");
        int stem = (int)Need("stem.weight").shape[0];
        var widths = new List<int>();
        while (sd.TryGetValue($"stages.{widths.Count}.conv1.weight", out var w)) widths.Add((int)w.shape[0]);
        int pyramid = (int)Need("lateral.0.weight").shape[0];
        int rows = 0;
        while (sd.ContainsKey($"heads.{rows}.linear.weight")) rows++;
        if (rows != avg.shape[0]) throw new InvalidDataException($"StyleEncoder state_dict has {rows} heads but latent_avg has {avg.shape[0]} rows");
        // A head on pyramid level L has L stride-2 convs, so the number of convs gives the split.
        int Convs(int row) { int c = 0; while (sd.ContainsKey($"heads.{row}.convs.{2 * c}.weight")) c++; return c; }
        int coarse = Enumerable.Range(0, rows).TakeWhile(r => Convs(r) == 0).Count();
        int middle = coarse + Enumerable.Range(coarse, rows - coarse).TakeWhile(r => Convs(r) == 1).Count();
        return new StyleEncoderConfig(4 << widths.Count, rows, (int)avg.shape[1], widths, stem, pyramid, coarse, middle);
    }
}
