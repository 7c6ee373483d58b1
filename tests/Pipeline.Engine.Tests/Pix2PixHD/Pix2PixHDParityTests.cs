using System.Text.Json;
using Pipeline.Engine.Pix2PixHD;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Pix2PixHD;

/// <summary>
/// Runs every case under $PIPELINE_FIXTURES/pix2pixhd/ (or ../shared/fixtures) through the port. Configuration, inputs,
/// networks and tolerances come from each case's files; the case kind comes from meta.json's "fixture" and an unknown
/// kind fails. Every tensor whose role is "expected" must be compared.
/// </summary>
[Trait("Category", "Parity")]
public sealed class Pix2PixHDParityTests
{
    private const string Family = "pix2pixhd";

    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        foreach (var c in TestPaths.FixtureCases(Family, "meta.json")) data.Add(c);
        if (data.Count == 0) data.Add("(no fixtures)");
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void CaseMatchesReference(string name)
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir(Family), name);
        Requirement.SkipUnless(Directory.Exists(dir), $"No {Family} fixture cases (folders with meta.json) under {Path.GetDirectoryName(dir)}");
        using var scope = NewDisposeScope();
        using var c = new ParityCase(dir);
        Action<ParityCase> run = KindOf(c.Kind) switch
        {
            "encode_input" => EncodeInputCases.Run,
            "global_generator" => NetworkCases.GlobalGenerator,
            "local_enhancer" => NetworkCases.LocalEnhancer,
            "encoder" => NetworkCases.Encoder,
            "multiscale_discriminator" => NetworkCases.Discriminator,
            "train_step" => TrainStepCases.Run,
            "preprocess" => PreprocessCases.Run,
            "inference" => InferenceCases.Run,
            _ => throw new InvalidOperationException($"pix2pixhd fixture '{name}' has kind '{c.Kind}', which this suite does not know: add a handler"),
        };
        run(c);
        c.AssertAllExpectedCompared();
    }

    /// <summary>Kinds are matched by their base name so variants (`global_generator_batchnorm`, `train_step_bce`) share a handler.</summary>
    private static string KindOf(string kind)
    {
        string[] known = ["encode_input", "global_generator", "local_enhancer", "encoder", "multiscale_discriminator", "train_step", "preprocess", "inference"];
        return known.Where(k => kind == k || kind.StartsWith(k + "_", StringComparison.Ordinal)).OrderByDescending(k => k.Length).FirstOrDefault() ?? kind;
    }
}

internal static class EncodeInputCases
{
    public static void Run(ParityCase c)
    {
        int nc = c.Int("label_nc");
        var label = c["in.label"];
        var inst = c.Has("in.inst") ? c["in.inst"] : null;
        c.CheckIfPresent("out.input_label", InputEncoding.EncodeLabel(label, inst, nc, noInstance: false));
        if (inst is not null) c.CheckIfPresent("out.edge", InputEncoding.Edges(inst));
        c.CheckIfPresent("out.input_label_no_instance", InputEncoding.EncodeLabel(label, null, nc, noInstance: true));
        if (c.Has("in.label_rgb")) c.CheckIfPresent("out.input_label_nc0", InputEncoding.EncodeLabel(c["in.label_rgb"], inst, 0, noInstance: false));
    }
}

internal static class NetworkCases
{
    private static NormKind Norm(JsonElement cfg) => cfg.GetProperty("norm").GetString() == "batch" ? NormKind.Batch : NormKind.Instance;

    public static void GlobalGenerator(ParityCase c)
    {
        var cfg = c.Config.GetProperty("netG");
        var (net, gc) = Networks.LoadGenerator(c.Weights("weights.pth"));
        Assert.False(gc.Local);
        Assert.Equal(new GeneratorConfig(cfg.GetProperty("input_nc").GetInt32(), cfg.GetProperty("output_nc").GetInt32(), cfg.GetProperty("ngf").GetInt32(),
            cfg.GetProperty("n_downsample_global").GetInt32(), cfg.GetProperty("n_blocks_global").GetInt32(), Norm(cfg)), gc);
        var g = (Pipeline.Engine.Pix2PixHD.GlobalGenerator)net;
        using (no_grad())
        {
            // Stage by stage, so a mismatch points at the layer; the intermediates are optional in a fixture.
            var h = c["in.x"];
            for (int i = 0; i < g.Stages.Count; i++)
            {
                h = g.Stages[i].forward(h);
                c.CheckIfPresent($"aux.model.{i}", h);
            }
            c.Check("out.y", h);
            c.Check("out.y", g.forward(c["in.x"]));
            if (c.Has("in.x_odd")) c.Check("out.y_odd", g.forward(c["in.x_odd"]));
        }
    }

    public static void LocalEnhancer(ParityCase c)
    {
        var cfg = c.Config.GetProperty("netG");
        var (net, gc) = Networks.LoadGenerator(c.Weights("weights.pth"));
        Assert.True(gc.Local);
        Assert.Equal(cfg.GetProperty("n_local_enhancers").GetInt32(), gc.NLocalEnhancers);
        Assert.Equal(cfg.GetProperty("n_blocks_local").GetInt32(), gc.NBlocksLocal);
        Assert.Equal(cfg.GetProperty("ngf").GetInt32(), gc.Ngf);
        Assert.Equal(cfg.GetProperty("n_downsample_global").GetInt32(), gc.NDownsample);
        Assert.Equal(cfg.GetProperty("n_blocks_global").GetInt32(), gc.NBlocks);
        Assert.Equal(Norm(cfg), gc.Norm);
        using (no_grad())
        {
            var y = ((Pipeline.Engine.Pix2PixHD.LocalEnhancer)net).ForwardStages(c["in.x"], (stage, t) => c.CheckIfPresent("aux." + stage, t));
            c.Check("out.y", y);
        }
    }

    public static void Encoder(ParityCase c)
    {
        var cfg = c.Config.GetProperty("netE");
        var e = Networks.LoadEncoder(c.Weights("weights.pth"));
        var (inputNc, featNum, nef, n, norm) = Networks.InferEncoder(c.Weights("weights.pth"));
        Assert.Equal((cfg.GetProperty("input_nc").GetInt32(), cfg.GetProperty("feat_num").GetInt32(), cfg.GetProperty("nef").GetInt32(),
            cfg.GetProperty("n_downsample_E").GetInt32(), Norm(cfg)), (inputNc, featNum, nef, n, norm));
        using var _ = no_grad();
        var image = c["in.image"];
        var inst = c["in.inst"];
        c.CheckIfPresent("aux.raw", e.Raw(image));
        c.Check("out.feat", e.forward(image, inst));
        if (!c.TensorNames.Contains("out.encode_features_ids")) return;
        // encode_features runs E on one image at a time, as encode_features.py does.
        var ids = new List<double>();
        var vals = new List<double>();
        for (int b = 0; b < image.shape[0]; b++)
        {
            var pooled = e.forward(image[b..(b + 1)], inst[b..(b + 1)]);
            foreach (var row in FeatureClusters.CollectRows(pooled, inst[b..(b + 1)]))
            {
                ids.AddRange([b, row.InstanceId, row.Label]);
                vals.AddRange(row.Features.Append(row.Area));
            }
        }
        c.Check("out.encode_features_ids", tensor(ids.ToArray()).view(-1, 3));
        c.Check("out.encode_features_vals", tensor(vals.ToArray()).view(-1, featNum + 1));
    }

    public static void Discriminator(ParityCase c)
    {
        var cfg = c.Config.GetProperty("netD");
        var d = Networks.LoadDiscriminator(c.Weights("weights.pth"), cfg.GetProperty("use_sigmoid").GetBoolean());
        AssertConfig(cfg, d.Config);
        using var _ = no_grad();
        var x = c["in.x"];
        var result = d.forward(x);
        var scaled = x;
        for (int i = 0; i < result.Count; i++)
        {
            c.CheckIfPresent($"aux.input_scale{i}", scaled);
            scaled = TorchSharp.torch.nn.functional.avg_pool2d(scaled, 3, 2, 1, count_include_pad: false);
            for (int j = 0; j < result[i].Count; j++) c.Check($"out.d{i}.f{j}", result[i][j]);
        }
        Assert.Empty(c.Matching($"out.d{result.Count}."));
        if (c.Config.TryGetProperty("netD_nointerm", out var cfg2))
        {
            var d2 = Networks.LoadDiscriminator(c.Weights("weights_nointerm.pth"), cfg2.GetProperty("use_sigmoid").GetBoolean());
            AssertConfig(cfg2, d2.Config);
            var r2 = d2.forward(x);
            for (int i = 0; i < r2.Count; i++)
            {
                Assert.Single(r2[i]);
                c.Check($"out.nointerm.d{i}", r2[i][0]);
            }
        }
    }

    private static void AssertConfig(JsonElement cfg, DiscriminatorConfig got) =>
        Assert.Equal(new DiscriminatorConfig(cfg.GetProperty("input_nc").GetInt32(), cfg.GetProperty("ndf").GetInt32(), cfg.GetProperty("n_layers_D").GetInt32(),
            Norm(cfg), cfg.GetProperty("use_sigmoid").GetBoolean(), cfg.GetProperty("num_D").GetInt32(), cfg.GetProperty("getIntermFeat").GetBoolean()), got);
}
