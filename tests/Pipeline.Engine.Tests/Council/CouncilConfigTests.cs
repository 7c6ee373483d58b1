using Pipeline.Engine.Council;
using Pipeline.Imaging;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Council;

/// <summary>Config reading (YAML 1.1 rules), architecture inference from shapes, and mismatch errors.</summary>
public class CouncilConfigTests
{
    private const string Minimal = """
        gen:
          dim: 8
          mlp_dim: 16
          style_dim: 4
          n_downsample: 2
          n_res: 1_0
          activ: relu
          pad_type: zero
          num_of_mask_dim_to_add: 2
          do_my_style: no
        dis:
          dim: 4
          n_layer: 3
          num_scales: 3
        council:
          council_size: 3
          numberOfCouncil_dis_relative_iteration: 5
          discriminetro_less_style_by: 0.5
          council_start_at_iter: 1_000
        new_size: 64
        do_a2b: False
        do_b2a: True
        gan_w: 10
        RandomResizedCrop_ratio_max: 4. / 3.
        """;

    [Fact]
    public void ReadsYaml11ScalarsAndDerivesSizes()
    {
        var c = CouncilConfig.Parse(Minimal);
        Assert.Equal(10, c.Gen.NRes); // 1_0 is 10 under YAML 1.1
        Assert.Equal(1000, c.Council.CouncilStartAtIter);
        Assert.Equal(2, c.Gen.NumMasks);
        Assert.Equal(3, c.Dis.NumScales);
        Assert.Equal(5, c.Council.ComparisonsPerStep);
        Assert.Equal(0.5, c.Council.LessStyleBy);
        Assert.Equal(64, c.CropWidth);
        Assert.Equal("b2a", c.Direction);
        // 4·n_res·D + 4·Σ D/2^u with D = 32: 4·10·32 + 4·(16 + 8)
        Assert.Equal(4 * 10 * 32 + 4 * (16 + 8), c.Gen.NumAdaInParams);
    }

    [Fact]
    public void UnsupportedOptionsFailWithTheKeyName()
    {
        var e = Assert.Throws<CouncilConfigException>(() => CouncilConfig.Parse(Minimal.Replace("do_my_style: no", "do_my_style: yes")));
        Assert.Contains("do_my_style", e.Message);
        var missing = Assert.Throws<CouncilConfigException>(() => CouncilConfig.Parse(Minimal.Replace("  style_dim: 4\n", "")));
        Assert.Contains("gen.style_dim", missing.Message);
        var bad = Assert.Throws<CouncilConfigException>(() => CouncilConfig.Parse(Minimal.Replace("new_size: 64", "new_size: big")));
        Assert.Contains("new_size", bad.Message);
    }

    public static TheoryData<int, int, int, int, int, int> Architectures() => new()
    {
        // dim, mlp, style, n_down, n_res, M
        { 8, 32, 8, 2, 2, 3 },
        { 4, 16, 5, 3, 1, 2 },
        { 6, 12, 3, 1, 3, 4 },
        { 4, 8, 2, 1, 0, 1 },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ArchitectureIsRecoveredFromTheStateDict(int dim, int mlp, int style, int nDown, int nRes, int m)
    {
        var o = new GenOptions(dim, mlp, style, nDown, nRes, NumMasks: m);
        using var g = new CouncilGenerator(o);
        var sd = g.state_dict();
        Assert.Equal(o, CouncilCheckpoint.InferGenerator(sd));
        Assert.Equal(o.NumAdaInParams, sd["mlp.model.2.fc.weight"].shape[0]);
        var wrong = o with { NRes = nRes + 1 };
        var e = Assert.Throws<CouncilConfigException>(() => CouncilCheckpoint.Reconcile(wrong, CouncilCheckpoint.InferGenerator(sd), "test.pt"));
        Assert.Contains("gen.n_res", e.Message);

        using var scope = NewDisposeScope();
        int s = 1 << nDown;
        var x = rand(2, 3, 3 * s, 2 * s) * 2 - 1;
        using var _ = no_grad();
        var y = g.forward(x, randn(2, style, 1, 1));
        Assert.Equal(x.shape, y.shape);
    }

    [Theory]
    [InlineData(4, 3, 2)]
    [InlineData(2, 5, 1)]
    public void DiscriminatorsAreRecoveredFromTheirStateDicts(int dim, int nLayer, int scales)
    {
        var o = new DisOptions(dim, NLayer: nLayer, NumScales: scales);
        using var d = new MsImageDis(o);
        using var dc = new MsImageDisCouncil(o);
        Assert.Equal(o, CouncilCheckpoint.InferDiscriminator(d.state_dict(), council: false));
        Assert.Equal(o, CouncilCheckpoint.InferDiscriminator(dc.state_dict(), council: true));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var outs = dc.forward(rand(1, 3, 32, 32), rand(1, 3, 32, 32));
        Assert.Equal(scales, outs.Length);
    }

    [Fact]
    public void ResolvesMemberFilesLikeTheReference()
    {
        var dir = Directory.CreateTempSubdirectory("council-ckpt").FullName;
        try
        {
            foreach (var n in new[] { "b2a_gen_0_00010000.pt", "b2a_gen_1_00010000.pt", "b2a_gen_0_00020000.pt", "b2a_gen_1_00020000.pt", "b2a_gen_2_00020000.pt" })
                File.WriteAllBytes(Path.Combine(dir, n), []);
            var prefix = CouncilCheckpoint.ResolveGeneratorFiles(Path.Combine(dir, "00010000"), 2);
            Assert.Equal(["b2a_gen_0_00010000.pt", "b2a_gen_1_00010000.pt"], prefix.Select(Path.GetFileName));
            var latest = CouncilCheckpoint.ResolveGeneratorFiles(dir);
            Assert.Equal(3, latest.Count);
            Assert.All(latest, f => Assert.EndsWith("_00020000.pt", f));
            var missing = Assert.Throws<FileNotFoundException>(() => CouncilCheckpoint.ResolveGeneratorFiles(Path.Combine(dir, "00010000"), 4));
            Assert.Contains("member 2", missing.Message);
            Assert.Equal(Path.Combine(dir, "b2a_dis_council_1_00020000.pt"), CouncilCheckpoint.CompanionFile(latest[1], "dis_council"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void HalfRangeMappingTruncatesLikeToPilImage()
    {
        using var scope = NewDisposeScope();
        var v = tensor(new float[] { -1f, 0f, 1f, 0.5f }).reshape(1, 1, 1, 4);
        var b = ImageTensors.ToBytes(v, OutputMapping.HalfRange).flatten().data<byte>().ToArray();
        // (v+1)/2·255 truncated: 0, 127.5 → 127, 255, 191.25 → 191
        Assert.Equal(new byte[] { 0, 127, 255, 191 }, b);
    }
    [Fact, Trait("Category", "Parity")]
    public void ACheckpointThatDoesNotFitItsConfigIsRejectedByKey()
    {
        var dir = TestPaths.RequireFixtureDir("council");
        var files = Directory.GetDirectories(dir).SelectMany(d => Directory.GetFiles(d, "*.pt"))
            .Where(f => !Path.GetFileName(f).Contains("dis", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) Requirement.Skip($"No council generator checkpoints under {dir}");
        var config = CouncilConfig.Load(Path.Combine(Path.GetDirectoryName(files[0])!, "config.yaml"));
        using (var g = CouncilCheckpoint.LoadGenerator(files[0], config.Gen)) Assert.Equal(config.Gen, g.Options);
        var e = Assert.Throws<CouncilConfigException>(() => CouncilCheckpoint.LoadGenerator(files[0], config.Gen with { StyleDim = config.Gen.StyleDim + 1 }));
        Assert.Contains("gen.style_dim", e.Message);
        var wrongDir = Assert.Throws<InvalidDataException>(() => CouncilCheckpoint.LoadStateDict(files[0], "a2b"));
        Assert.Contains("'b2a'", wrongDir.Message);
    }
    [Theory]
    [InlineData(45, 38, 32, 20, 40)]
    [InlineData(7, 300, 64, 64, 64)]
    [InlineData(30, 52, 17, 5, 3)]
    public void ResizingOnlyTheCropWindowEqualsResizingThenCropping(int w, int h, int outW, int outH, int seed)
    {
        var rng = new Random(seed);
        var px = new byte[w * h * 3];
        rng.NextBytes(px);
        var src = new RgbImage(w, h, px);
        var full = Resampler.Resize(src, outW, outH, ResampleFilter.Bilinear);
        int cw = Math.Max(1, outW / 2), ch = Math.Max(1, outH / 3);
        var cropped = TorchvisionTransforms.CenterCrop(full, cw, ch);
        var (top, left) = TorchvisionTransforms.CenterCropOffsets(outW, outH, cw, ch);
        Assert.Equal(cropped.Pixels, Resampler.ResizeWindow(src, outW, outH, left, top, cw, ch, ResampleFilter.Bilinear).Pixels);
    }
}
