using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>A panorama and the merge_extension pairs it was tiled from.</summary>
public sealed record PanoramaResult(Tensor Panorama, IReadOnlyList<Tensor> Pairs);

public sealed partial class Soat
{
    /// <summary>
    /// scipy.ndimage.gaussian_filter(z, [sigma, 0], mode="wrap") (periodic smoothing across images, radius
    /// int(4 sigma + 0.5)) followed by division by the RMS of the whole array. Computed in float64.
    /// </summary>
    public static Tensor SmoothAndNormalize(Tensor z, double sigma = 0.7)
    {
        var zd = z.to(float64);
        long n = z.shape[0];
        if (sigma > 0)
        {
            int radius = (int)(4 * sigma + 0.5);
            var weights = Enumerable.Range(-radius, 2 * radius + 1).Select(k => Math.Exp(-0.5 * k * k / (sigma * sigma))).ToArray();
            double sum = weights.Sum();
            var acc = zeros_like(zd);
            for (int k = -radius; k <= radius; k++)
            {
                // out[i] += w_k * z[(i + k) mod n]  ==  roll by -k
                acc += weights[k + radius] / sum * zd.roll(-k % n, 0);
            }
            zd = acc;
        }
        zd = zd / zd.square().mean().sqrt();
        return zd.to(z.dtype);
    }

    /// <summary>Draws the notebook's z (numpy RandomState is not reproduced: torch's generator with the seed).</summary>
    public Tensor PanoramaLatents(int numImages, long seed)
    {
        return SeededLatents.Z(seed, numImages, G.Config.StyleDim, G.Device);
    }

    /// <summary>
    /// Panorama from z [n, D] (already smoothed/normalised or raw with <see cref="SmoothAndNormalize"/> applied here when
    /// <paramref name="smooth"/>): pairs of neighbours through merge_extension, tiled into [1, 3, S, n*S].
    /// </summary>
    public PanoramaResult Panorama(Tensor z, PanoramaOptions options, IReadOnlyList<Tensor>? meanStyles, bool smooth = true)
    {
        int n = (int)z.shape[0];
        if (n < 2) throw new ArgumentException("a panorama needs at least two images");
        if (smooth) z = SmoothAndNormalize(z, options.Sigma);
        var source = GetStyles(z, truncation: options.Truncation, meanStyles: meanStyles);
        var pairs = new List<Tensor>();
        for (int i = 0; i < n - 1; i++)
            pairs.Add(MergeExtension(IndexLayers(source, i), IndexLayers(source, i + 1)));
        return new PanoramaResult(Tile(pairs, G.Config.Size), pairs);
    }

    /// <summary>The notebook's tiling generalised from 256 px: W = 2S, pad = W/4, canvas n*S wide.</summary>
    public static Tensor Tile(IReadOnlyList<Tensor> pairs, long s)
    {
        long w = 2 * s, pad = w / 4;
        int n = pairs.Count + 1;
        var p0 = pairs[0];
        var canvas = zeros([p0.shape[0], p0.shape[1], p0.shape[2], w + (n - 2) * s], dtype: p0.dtype, device: p0.device);
        long coord = s + pad;
        canvas[TensorIndex.Ellipsis, TensorIndex.Slice(0, coord)] = p0[TensorIndex.Ellipsis, TensorIndex.Slice(0, coord)];
        for (int k = 1; k <= n - 2; k++)
        {
            canvas[TensorIndex.Ellipsis, TensorIndex.Slice(coord, coord + w - 2 * pad)] = pairs[k][TensorIndex.Ellipsis, TensorIndex.Slice(pad, w - pad)];
            coord += w - 2 * pad;
        }
        canvas[TensorIndex.Ellipsis, TensorIndex.Slice(coord, null)] = pairs[n - 2][TensorIndex.Ellipsis, TensorIndex.Slice(w - pad, null)];
        return canvas;
    }
}
