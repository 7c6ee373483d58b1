using Pipeline.Engine.Pix2PixHD;
using Pipeline.Imaging;
using Pipeline.Imaging.Labels;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Pix2PixHD;

/// <summary>Behaviour that holds by construction (key rules of spec 11.4, size rules of 3.3/4.2, rejections).</summary>
public sealed class Pix2PixHDUnitTests
{
    [Fact]
    public void LocalEnhancerWithTwoStagesFollowsTheKeyRuleAndRoundTripsThroughInference()
    {
        using var scope = NewDisposeScope();
        var net = new LocalEnhancer(inputNc: 5, outputNc: 3, ngf: 2, nDownsampleGlobal: 1, nBlocksGlobal: 1, nLocalEnhancers: 2, nBlocksLocal: 1, NormKind.Instance);
        var sd = net.state_dict();
        // Global part of width ngf*2^L = 8; enhancer n has ngf*2^(L-n); only the last has the final conv at nbl+4.
        Assert.Equal([8, 5, 7, 7], sd["model.1.weight"].shape);
        Assert.Equal([4, 5, 7, 7], sd["model1_1.1.weight"].shape);
        Assert.Equal([2, 5, 7, 7], sd["model2_1.1.weight"].shape);
        Assert.Equal([8, 4, 3, 3], sd["model1_2.1.weight"].shape); // transposed conv [in, out, k, k]
        Assert.Equal([3, 2, 7, 7], sd["model2_2.5.weight"].shape);
        Assert.DoesNotContain("model1_2.5.weight", sd.Keys);
        var config = Networks.InferGenerator(sd.ToDictionary(kv => kv.Key, kv => kv.Value));
        Assert.Equal(new GeneratorConfig(5, 3, 2, 1, 1, NormKind.Instance, true, 2, 1), config);
        using var _ = no_grad();
        Assert.Equal([2, 3, 16, 24], net.forward(rand(2, 5, 16, 24)).shape);
        // 16x20 is not a multiple of 2^(1+2): the enhancer sums cannot line up, which must be a clear error.
        Assert.Throws<ArgumentException>(() => net.forward(rand(1, 5, 16, 20)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void GlobalGeneratorConfigIsReadBackFromItsOwnKeys(int blocks)
    {
        using var scope = NewDisposeScope();
        var g = new GlobalGenerator(inputNc: 6, outputNc: 3, ngf: 4, nDownsampling: 2, nBlocks: blocks, NormKind.Batch);
        var sd = g.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(new GeneratorConfig(6, 3, 4, 2, blocks, NormKind.Batch), Networks.InferGenerator(sd));
        // Final conv at 5 + 6n + nb (spec 11.4).
        Assert.Equal([3, 4, 7, 7], sd[$"model.{5 + 6 * 2 + blocks}.weight"].shape);
    }

    [Fact]
    public void ImageToImageModelsTakeThePhotoTransformedInputAsIs()
    {
        using var scope = NewDisposeScope();
        var o = new Pix2PixHDOptions { LabelNc = 0, InputNc = 3, NoInstance = true, Ngf = 4, NDownsampleGlobal = 2, NBlocksGlobal = 1, ResizeOrCrop = "none" };
        var g = new GlobalGenerator(o.NetGInputNc, 3, 4, 2, 1, NormKind.Instance);
        using var t = new Translator(o, g, GeneratorConfig.From(o), null, null);
        var rng = new Random(5);
        var image = new RgbImage(12, 8, Enumerable.Range(0, 8 * 12 * 3).Select(_ => (byte)rng.Next(256)).ToArray());
        using var r = t.Translate(new Label2ImageRequest(null) { InputImage = image });
        // 12x8 is a multiple of 2^2, so `none` leaves it; the input is the normalised image, no one-hot, no edge.
        var expectedInput = Preprocess.PhotoToTensor(image);
        Assert.True(r.Label.eq(expectedInput).all().item<bool>());
        using var _ = no_grad();
        Assert.True(r.Generated.eq(g.forward(expectedInput)).all().item<bool>());
        Assert.Throws<ArgumentException>(() => t.Translate(new Label2ImageRequest(null)));
    }

    [Fact]
    public void OneHotRejectsIdsTheModelDoesNotKnow()
    {
        var label = tensor(new float[] { 0, 1, 2, 3 }, [1, 1, 2, 2]);
        var e = Assert.Throws<InvalidLabelMapException>(() => InputEncoding.OneHot(label, 3));
        Assert.Equal(LabelMapRejection.IdOutOfRange, e.Reason);
        var ok = InputEncoding.OneHot(label, 4);
        Assert.Equal(4.0f, ok.sum().item<float>());
        Assert.Equal(1.0f, ok[0, 3, 1, 1].item<float>());
    }

    [Fact]
    public void InstancePoolingAveragesPerSampleAndId()
    {
        var raw = tensor(new float[] { 1, 2, 3, 4, 10, 20, 30, 40 }, [2, 1, 2, 2]);
        var inst = tensor(new float[] { 7, 7, 9, 9, 7, 9, 9, 9 }, [2, 1, 2, 2]);
        var pooled = Encoder.InstancePool(raw, inst).flatten().data<float>().ToArray();
        Assert.Equal(new float[] { 1.5f, 1.5f, 3.5f, 3.5f, 10, 30, 30, 30 }, pooled);
    }

    [Fact]
    public void TranslatorInfersLabelCountFromTheGeneratorWhenNoOptionsAreGiven()
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("pix2pixhd"), "inference");
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "latest_net_G.pth")), $"pix2pixhd fixture 'inference' not present ({dir}/latest_net_G.pth)");
        using var t = Translator.Load(dir);
        // A 9-channel generator without features: 8 classes + the edge channel (no_instance off by default).
        Assert.Equal(t.Generator.InputNc - 1, t.Options.LabelNc);
        Assert.False(t.Options.NoInstance);
        using var t2 = Translator.Load(dir, overrides: new TranslatorOverrides(NoInstance: true));
        Assert.Equal(t.Generator.InputNc, t2.Options.LabelNc);
        Assert.Throws<InvalidDataException>(() => Translator.Load(dir, overrides: new TranslatorOverrides(LabelNc: t.Options.LabelNc + 1)));
    }
}
