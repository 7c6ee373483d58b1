using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>Result of the ppl.py percentile filter.</summary>
public sealed record PercentileFilterResult(double Low, double High, double Mean, int Kept);

/// <summary>
/// The generator-side, deterministic parts of ppl.py (spec 8): interpolation, W-space pair construction, the face
/// crop and the 1%/99% filter. The LPIPS distance and the sampling loop belong to the metrics area.
/// </summary>
public static class PplSampling
{
    public static Tensor Normalize(Tensor x) => x / x.square().sum(-1, keepdim: true).sqrt();

    /// <summary>Spherical interpolation of normalised vectors (ppl.py slerp; t broadcast as [B,1]).</summary>
    public static Tensor Slerp(Tensor a, Tensor b, Tensor t)
    {
        a = Normalize(a);
        b = Normalize(b);
        var d = (a * b).sum(-1, keepdim: true);
        var p = t * d.acos();
        var c = Normalize(b - d * a);
        return Normalize(a * p.cos() + c * p.sin());
    }

    public static Tensor Lerp(Tensor a, Tensor b, Tensor t) => a + (b - a) * t;

    /// <summary>
    /// W-space pairs: w = mapping(inputs [2n, D]); rows e0_i = lerp(w_2i, w_2i+1, t_i), e1_i = the same at t_i + eps,
    /// interleaved as e0_0, e1_0, e0_1, ... -> [2n, D].
    /// </summary>
    public static Tensor WSpacePairs(Generator g, Tensor inputs, Tensor t, double eps)
    {
        var latent = g.Map(inputs);
        var t0 = latent[TensorIndex.Slice(0, null, 2)];
        var t1 = latent[TensorIndex.Slice(1, null, 2)];
        var tt = t.unsqueeze(1);
        var e0 = Lerp(t0, t1, tt);
        var e1 = Lerp(t0, t1, tt + eps);
        return stack([e0, e1], 1).view(latent.shape);
    }

    /// <summary>--crop: rows 3c..7c, columns 2c..6c with c = H / 8.</summary>
    public static Tensor FaceCrop(Tensor image)
    {
        long c = image.shape[2] / 8;
        return image[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(3 * c, 7 * c), TensorIndex.Slice(2 * c, 6 * c)];
    }

    /// <summary>Keeps lo &lt;= d &lt;= hi with lo = percentile(d, 1, 'lower'), hi = percentile(d, 99, 'higher'); returns their mean.</summary>
    public static PercentileFilterResult PercentileFilter(IReadOnlyList<double> distances, double lowPercent = 1, double highPercent = 99)
    {
        if (distances.Count == 0) throw new ArgumentException("no distances to filter");
        var sorted = distances.Order().ToArray();
        int n = sorted.Length;
        double lo = sorted[(int)Math.Floor(lowPercent / 100 * (n - 1))];
        double hi = sorted[(int)Math.Ceiling(highPercent / 100 * (n - 1))];
        var kept = distances.Where(d => d >= lo && d <= hi).ToArray();
        return new PercentileFilterResult(lo, hi, kept.Average(), kept.Length);
    }
}
