using Pipeline.Engine.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>Handlers for the generator / discriminator cases (spec sections 2, 3, 5).</summary>
internal static class GeneratorParity
{
    private static readonly GenerateOptions Fixed = new() { RandomizeNoise = false };

    public static void Mapping(Sg2Case c)
    {
        var g = c.Generator();
        using var _ = no_grad();
        var z = c.In("z");
        c.Check("w", g.Map(z));
        c.Check("mean_latent", g.MeanLatent(c.In("z_mean")));
        var steps = g.MapWithIntermediates(z);
        for (int k = 0; k < steps.Count; k++)
            if (c.Io.ContainsKey($"aux.style.{k}")) c.Check($"style.{k}", steps[k], aux: true);
    }

    public static void Forward(Sg2Case c)
    {
        var g = c.Generator();
        using var _ = no_grad();
        var z = c.In("z");
        var (img, lat) = g.Forward([z], Fixed);
        c.Check("image", img);
        c.Check("latent", lat);
        var mean = g.MeanLatent(c.In("z_mean"));
        c.Check("mean_latent", mean);
        var (imgT, latT) = g.Forward([z], Fixed with { Truncation = c.Scalar("truncation"), TruncationLatent = mean });
        c.Check("image_trunc", imgT);
        c.Check("latent_trunc", latT);
        // latent_avg as convert_weight.py stores it ([D]) works as a truncation latent too.
        var avg = StateOrNull(c, "latent_avg");
        if (avg is not null) Assert.True(avg.flatten().allclose(mean.flatten(), 1e-4, 1e-5), "latent_avg differs from the fixture's mean latent");
    }

    public static void StyleMixing(Sg2Case c)
    {
        var g = c.Generator();
        using var _ = no_grad();
        var z1 = c.In("z1");
        var z2 = c.In("z2");
        foreach (var k in c.Config.GetProperty("inject_indices").EnumerateArray().Select(e => e.GetInt32()))
        {
            var (img, lat) = g.Forward([z1, z2], Fixed with { InjectIndex = k });
            c.Check($"image_inject{k}", img);
            c.Check($"latent_inject{k}", lat);
        }
        var tc = c.Config.GetProperty("trunc_case");
        int ki = tc[0].GetInt32();
        var (imgT, latT) = g.Forward([z1, z2], Fixed with { InjectIndex = ki, Truncation = tc[1].GetDouble(), TruncationLatent = g.MeanLatent(c.In("z_mean")) });
        c.Check($"image_inject{ki}_trunc", imgT);
        c.Check($"latent_inject{ki}_trunc", latT);
    }

    public static void WPlus(Sg2Case c)
    {
        var g = c.Generator();
        using var _ = no_grad();
        var wplus = c.In("wplus");
        var latentOpts = Fixed with { InputIsLatent = true };
        var (img, lat) = g.Forward([wplus], latentOpts);
        c.Check("image_wplus", img);
        c.Check("latent_wplus", lat);
        (img, lat) = g.Forward([c.In("w")], latentOpts);
        c.Check("image_w", img);
        c.Check("latent_w", lat);
        var noise = Enumerable.Range(0, g.Config.NumLayers).Select(i => (Tensor?)c.In($"noise.{i}")).ToList();
        img = g.Forward([wplus], new GenerateOptions { InputIsLatent = true, Noise = noise }).Image;
        c.Check("image_wplus_explicit_noise", img);
        (img, lat) = g.Forward([wplus], latentOpts with { Truncation = c.ConfigDouble("wplus_truncation"), TruncationLatent = g.MeanLatent(c.In("z_mean")) });
        c.Check("image_wplus_trunc", img);
        c.Check("latent_wplus_trunc", lat);
    }

    public static void Gradients(Sg2Case c)
    {
        var g = c.Generator();
        var r = c.In("R");
        var wplus = c.In("wplus").clone().requires_grad_(true);
        var obj = (g.Forward([wplus], Fixed with { InputIsLatent = true }).Image * r).sum();
        obj.backward();
        c.Check("objective_wplus", obj);
        c.Check("grad_wplus", wplus.grad!);

        var z = c.In("z").clone().requires_grad_(true);
        obj = (g.Forward([z], Fixed).Image * r).sum();
        obj.backward();
        c.Check("objective_z", obj);
        c.Check("grad_z", z.grad!);

        Tensor w;
        using (no_grad()) w = g.Map(c.In("z"));
        w.requires_grad_(true);
        (g.Forward([w], Fixed with { InputIsLatent = true }).Image * r).sum().backward();
        c.Check("grad_w", w.grad!);
    }

    public static void DiscriminatorForward(Sg2Case c)
    {
        var d = c.Discriminator();
        using var _ = no_grad();
        foreach (var key in c.Names("in.img_b"))
        {
            var suffix = key["in.img_".Length..];
            var img = c.Io[key];
            c.Check($"score_{suffix}", d.forward(img));
            if (c.Io.ContainsKey($"aux.features_{suffix}"))
            {
                var f = d.Features(img);
                var fs = d.AppendStddev(f);
                c.Check($"features_{suffix}", f, aux: true);
                c.Check($"final_conv_input_{suffix}", fs, aux: true);
                c.Check($"final_conv_{suffix}", d.FinalConv(fs), aux: true);
            }
        }
    }

    public static void TrainLayout(Sg2Case c)
    {
        using var _ = no_grad();
        // Through the public loader: optimiser states and the pickled argparse.Namespace must be tolerated.
        var ckpt = StyleGan2Checkpoint.FromTree(c.Checkpoint(), c.Dir, withTrainingGenerator: true, withDiscriminator: true);
        Assert.Null(ckpt.LatentAvg);
        var z = c.In("z");
        c.Check("g_ema_image", ckpt.GEma!.Forward([z], Fixed).Image);
        c.Check("g_image", ckpt.G!.Forward([z], Fixed).Image);
        c.Check("d_score", ckpt.D!.forward(c.In("image")));
    }

    private static Tensor? StateOrNull(Sg2Case c, string key) =>
        c.Checkpoint() is OrderedDictionary<string, object?> d && d.TryGetValue(key, out var v) ? v as Tensor : null;
}
