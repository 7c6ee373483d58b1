using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>
/// SOAT ("StyleGAN of All Trades") operations on a loaded <see cref="Generator"/>: style-space latents (one
/// vector per modulated layer), clamped style-space forward, merge_extension/panorama, blend, blend_bbox,
/// patch_swap and two-generator toonification. Style lists are batch-first; the image operations take
/// batch-1 lists (<see cref="IndexLayers"/>) and use the generator's stored noise buffers, as SOAT does.
/// </summary>
public sealed partial class Soat(Generator g)
{
    public Generator G { get; } = g;

    /// <summary>get_latent: z [B,D] (mapped and repeated) or W+ [B,n_latent,D] when <paramref name="isLatent"/>; truncation in style space.</summary>
    public List<Tensor> GetStyles(Tensor input, bool isLatent = false, double truncation = 1, IReadOnlyList<Tensor>? meanStyles = null)
    {
        var latent = isLatent ? input : G.Map(input).unsqueeze(1).repeat(1, G.Config.NLatent, 1);
        var styles = G.StylesFromLatent(latent);
        if (truncation < 1 && meanStyles is not null)
            for (int k = 0; k < styles.Count; k++)
                styles[k] = meanStyles[k] + truncation * (styles[k] - meanStyles[k]);
        return styles;
    }

    /// <summary>mean_latent in SOAT: the per-entry means of get_latent over the given z draws [n, D].</summary>
    public List<Tensor> MeanStyles(Tensor z) => GetStyles(z).Select(s => s.mean([0], keepdim: true)).ToList();

    /// <summary>mean_latent(n) with fresh standard-normal draws.</summary>
    public List<Tensor> MeanStyles(int n) => MeanStyles(randn([n, G.Config.StyleDim], device: G.Device));

    /// <summary>SOAT forward: stored noise buffers by default, output clamped to [-1, 1].</summary>
    public Tensor Forward(IReadOnlyList<Tensor> styles, IReadOnlyList<Tensor?>? noise = null) =>
        G.SynthesizeStyles(styles, noise ?? G.NoiseBuffersList).clamp(-1, 1);

    /// <summary>util.index_layers: entry-wise row i, keeping the batch dim.</summary>
    public static List<Tensor> IndexLayers(IReadOnlyList<Tensor> styles, long i) => styles.Select(s => s.narrow(0, i, 1)).ToList();

    /// <summary>util.list2style: the style list as one [B, sum C] vector.</summary>
    public static Tensor ListToStyle(IReadOnlyList<Tensor> styles) => cat(styles.ToArray(), 1);

    /// <summary>util.style2list with this generator's entry lengths (SOAT hard-codes 256 px).</summary>
    public List<Tensor> StyleToList(Tensor flat)
    {
        var lengths = StyleLengths();
        if (flat.shape[1] != lengths.Sum()) throw new ArgumentException($"style vector has {flat.shape[1]} values, this generator's style space {lengths.Sum()}");
        return flat.split(lengths.ToArray(), 1).ToList();
    }

    /// <summary>Length of every style-list entry (the in-channels of its layer).</summary>
    public IReadOnlyList<long> StyleLengths() => Enumerable.Range(0, G.Config.NumStyles).Select(k => G.StyleLayer(k).InChannels).ToList();

    /// <summary>util.interpolate_style: (1-q)*s + q*t.</summary>
    public static Tensor InterpolateStyle(Tensor s, Tensor t, double q) => (1 - q) * s + q * t;

    /// <summary>SOAT's ramp: zeros, last W/4 ones, linspace(0,1) in between.</summary>
    public static Tensor Ramp(long w, Device? device = null)
    {
        var a = zeros(w, device: device);
        long pad = w / 4;
        if (pad > 0) a[TensorIndex.Slice(w - pad, null)] = tensor(1f);
        a[TensorIndex.Slice(pad, w - pad)] = linspace(0, 1, w - 2 * pad, device: device);
        return a;
    }

    private static Tensor Mix(Tensor p, Tensor q, Tensor alpha) => (1 - alpha) * p + alpha * q;

    private static Tensor Mix(Tensor p, Tensor q, double a) => (1 - a) * p + a * q;

    /// <summary>
    /// SOAT NoiseInjection fallback for a feature map wider than the noise: a CPU generator seeded with the new
    /// width fills [.., W_new], then the noise is written to the first and (winning on overlap) the last W_old columns.
    /// </summary>
    public static Tensor WidenNoise(Tensor noise, long width)
    {
        long w0 = noise.shape[3];
        if (w0 == width) return noise;
        if (width == 2 * w0) return cat([noise, noise], 3);
        using var gen = new torch.Generator((ulong)width, CPU);
        var o = zeros([noise.shape[0], noise.shape[1], noise.shape[2], width]).normal_(0, 1, gen).to(noise.device);
        o[TensorIndex.Ellipsis, TensorIndex.Slice(0, w0)] = noise;
        o[TensorIndex.Ellipsis, TensorIndex.Slice(width - w0, width)] = noise;
        return o;
    }
}
