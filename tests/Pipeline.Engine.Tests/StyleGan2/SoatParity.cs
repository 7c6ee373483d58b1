using Pipeline.Engine.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>Handlers for the soat_* cases (spec section 10).</summary>
internal static class SoatParity
{
    public static void Styles(Sg2Case c)
    {
        var soat = new Soat(c.Generator());
        using var _ = no_grad();
        var styles = soat.GetStyles(c.In("z"));
        var mean = soat.MeanStyles(c.In("z_mean"));
        var trunc = soat.GetStyles(c.In("z"), truncation: c.ConfigDouble("truncation"), meanStyles: mean);
        var wplus = soat.GetStyles(c.In("wplus"), isLatent: true);
        Assert.Equal(c.Config.GetProperty("n_styles").GetInt32(), styles.Count);
        for (int k = 0; k < styles.Count; k++)
        {
            c.Check($"styles.{k}", styles[k]);
            c.Check($"mean_styles.{k}", mean[k]);
            c.Check($"styles_trunc.{k}", trunc[k]);
            c.Check($"styles_wplus.{k}", wplus[k]);
        }
        c.Check("image_trunc", soat.Forward(trunc));
        c.Check("image_wplus", soat.Forward(wplus));
        // Style list <-> flat vector round trip.
        var flat = Soat.ListToStyle(trunc);
        Assert.Equal(soat.StyleLengths().Sum(), flat.shape[1]);
        Assert.True(soat.StyleToList(flat).Zip(trunc).All(p => p.First.allclose(p.Second, 0, 0)));
    }

    private static (Soat Soat, List<Tensor> A, List<Tensor> B) TwoLatents(Sg2Case c)
    {
        var soat = new Soat(c.Generator());
        var styles = soat.GetStyles(c.In("z"), truncation: c.ConfigDouble("truncation"), meanStyles: soat.MeanStyles(c.In("z_mean")));
        return (soat, Soat.IndexLayers(styles, 0), Soat.IndexLayers(styles, 1));
    }

    public static void MergeExtension(Sg2Case c)
    {
        using var _ = no_grad();
        var (soat, a, b) = TwoLatents(c);
        c.Check("image", soat.MergeExtension(a, b));
        foreach (var key in c.Names("aux.alpha_w"))
        {
            long w = long.Parse(key["aux.alpha_w".Length..]);
            c.Check($"alpha_w{w}", Soat.Ramp(w), aux: true);
        }
    }

    public static void Panorama(Sg2Case c)
    {
        var soat = new Soat(c.Generator());
        using var _ = no_grad();
        // The numpy smoothing + RMS normalisation re-implemented must reproduce the stored intermediate inputs.
        var zs = Soat.SmoothAndNormalize(c.In("z_raw"), sigma: 0.7);
        Assert.True(zs.allclose(c.In("z_normalized"), 1e-5, 1e-5), "SmoothAndNormalize differs from the notebook's gaussian_filter + RMS");
        var zOnlySmoothed = Soat.SmoothAndNormalize(c.In("z_smoothed"), sigma: 0);
        Assert.True(zOnlySmoothed.allclose(c.In("z_normalized"), 1e-5, 1e-5), "RMS normalisation differs");

        var opts = new PanoramaOptions(NumImages: (int)c.In("z_normalized").shape[0], Truncation: c.ConfigDouble("truncation"));
        var result = soat.Panorama(c.In("z_normalized"), opts, soat.MeanStyles(c.In("z_mean")), smooth: false);
        for (int i = 0; i < result.Pairs.Count; i++) c.Check($"pair.{i}", result.Pairs[i]);
        c.Check("panorama", result.Panorama);
        Assert.Equal(c.Config.GetProperty("panorama_width").GetInt64(), result.Panorama.shape[3]);
    }

    public static void Blend(Sg2Case c)
    {
        using var _ = no_grad();
        var (soat, a, b) = TwoLatents(c);
        c.Check("vertical", soat.Blend(a, b, BlendDirection.Vertical));
        c.Check("horizontal", soat.Blend(a, b, BlendDirection.Horizontal));
        c.Check("image_a", soat.Forward(a));
        c.Check("image_b", soat.Forward(b));
    }

    public static void BlendBox(Sg2Case c)
    {
        using var _ = no_grad();
        var (soat, a, b) = TwoLatents(c);
        int i = 0;
        foreach (var cs in c.Config.GetProperty("cases").EnumerateArray())
        {
            var box = cs.GetProperty("box").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            var prepared = Box256.FromNormalized(box[0], box[1], box[2], box[3]);
            var xywh = cs.GetProperty("xywh").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(new Box256(xywh[0], xywh[1], xywh[2], xywh[3]), prepared);
            var opts = new BlendBoxOptions(prepared, PoseAlign: cs.GetProperty("model_type").GetString() == "face", NumBlend: cs.GetProperty("num_blend").GetInt32());
            c.Check($"blend.{i}", soat.BlendBox(a, b, opts));
            if (c.Io.ContainsKey($"aux.mask.{i}")) c.Check($"mask.{i}", Soat.BoxMask(prepared), aux: true);
            i++;
        }
    }

    public static void PatchSwap(Sg2Case c)
    {
        using var _ = no_grad();
        var (soat, a, b) = TwoLatents(c);
        var coord = c.Config.GetProperty("coord").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(e => e.GetInt32()).ToArray())
            .Select(v => new Box256(v[0], v[1], v[2], v[3])).ToArray();
        c.Check("swap", soat.PatchSwap(a, b, new PatchSwapOptions(coord[0], coord[1], Swap: true)));
        c.Check("copy", soat.PatchSwap(a, b, new PatchSwapOptions(coord[0], coord[1], Swap: false)));
    }

    public static void Toonify(Sg2Case c)
    {
        var face = new Soat(c.Generator());
        var disney = new Soat(c.Generator(file: "weights_disney.pt"));
        using var _ = no_grad();
        double t = c.ConfigDouble("truncation");
        var mean2 = disney.MeanStyles(c.In("z_mean2"));
        // As in the notebook, both latents come from the second generator's mapping and affines.
        var l1 = disney.GetStyles(c.In("source_code"), truncation: t, meanStyles: mean2);
        var l2 = disney.GetStyles(c.In("reference_code"), truncation: t, meanStyles: mean2);
        c.Check("source_image", face.Forward(l1));
        c.Check("reference_image", disney.Forward(l2));
        var opts = new ToonifyOptions(c.Config.GetProperty("num_swap").GetInt32(), c.ConfigDouble("alpha"), c.ConfigDouble("early_alpha"));
        c.Check("image", face.Toonify(disney.G, l1, l2, opts));
    }
}
