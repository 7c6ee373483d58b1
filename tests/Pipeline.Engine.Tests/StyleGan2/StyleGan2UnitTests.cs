using Pipeline.Engine.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>Properties that hold by construction (no fixtures needed): shapes, key layout, path equivalences, batching.</summary>
public sealed class StyleGan2UnitTests
{
    private static GeneratorConfig Tiny => new(16, 8, 3, new Dictionary<int, int> { [4] = 8, [8] = 6, [16] = 4 });

    [Fact]
    public void ReferenceLayoutHasTheSpecKeyCountsAndSizes()
    {
        using var scope = NewDisposeScope();
        // Spec 4.1: 256 px, channel_multiplier 2, style_dim 512, n_mlp 8.
        var g = new Generator(GeneratorConfig.Reference(256));
        var sd = g.state_dict();
        Assert.Equal(30_209_266L, sd.Values.Sum(t => t.numel()));
        Assert.Contains("convs.10.conv.blur.kernel", sd.Keys);
        Assert.Contains("to_rgbs.5.upsample.kernel", sd.Keys);
        Assert.Contains("noises.noise_12", sd.Keys);
        Assert.DoesNotContain("style.0.weight", sd.Keys);
        Assert.Equal([1L, 128, 256, 3, 3], sd["convs.10.conv.weight"].shape);
        var d = new Discriminator(DiscriminatorConfig.Reference(256));
        var dsd = d.state_dict();
        Assert.Equal(28_864_321L, dsd.Values.Sum(t => t.numel()));
        Assert.Equal([512L, 513, 3, 3], dsd["final_conv.0.weight"].shape);
        Assert.Equal([512L, 8192], dsd["final_linear.0.weight"].shape);
    }

    [Fact]
    public void ConfigIsInferredBackFromTheStateDict()
    {
        using var scope = NewDisposeScope();
        var g = new Generator(Tiny);
        var inferred = GeneratorConfig.FromStateDict(g.state_dict());
        Assert.Equal(Tiny.Size, inferred.Size);
        Assert.Equal(Tiny.StyleDim, inferred.StyleDim);
        Assert.Equal(Tiny.NMlp, inferred.NMlp);
        Assert.Equal(Tiny.Channels.OrderBy(k => k.Key), inferred.Channels.OrderBy(k => k.Key));
        var dcfg = new DiscriminatorConfig(16, new Dictionary<int, int> { [4] = 8, [8] = 6, [16] = 4 });
        var d = new Discriminator(dcfg);
        var dInferred = DiscriminatorConfig.FromStateDict(d.state_dict());
        Assert.Equal(dcfg.Channels.OrderBy(k => k.Key), dInferred.Channels.OrderBy(k => k.Key));
        // A model built from the state_dict reproduces the original's output exactly.
        var copy = Generator.FromStateDict(g.state_dict());
        var z = randn(2, 8);
        var opts = new GenerateOptions { RandomizeNoise = false };
        Assert.True(g.Forward([z], opts).Image.allclose(copy.Forward([z], opts).Image, 0, 0));
    }

    [Fact]
    public void SharedKernelPathEqualsGroupedConvPath()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = new Generator(Tiny);
        var z = randn(3, 8);
        var opts = new GenerateOptions { RandomizeNoise = false };
        var fused = g.Forward([z], opts).Image;
        g.SetFusedModulation(false);
        var shared = g.Forward([z], opts).Image;
        Assert.True(fused.allclose(shared, 1e-4, 1e-5), $"max diff {(fused - shared).abs().max().item<float>()}");
    }

    private sealed class SlicedDraws(Tensor meanZ, IReadOnlyList<Tensor> noise, Tensor eps, long from, long count) : IProjectorDraws
    {
        public Tensor MeanLatentZ(int n, int styleDim, Device device) => meanZ;
        public IReadOnlyList<Tensor> InitialNoise(Generator g, int batch) => noise.Select(n => n.narrow(0, from, count)).ToList();
        public Tensor LatentNoise(int step, Tensor like) => eps[step].narrow(0, from, count);
    }

    [Fact]
    public void IndependentBatchedProjectionEqualsOneImageAtATime()
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var g = new Generator(Tiny);
        var opts = new ProjectorOptions { Steps = 6, MseWeight = 1, NMeanLatent = 64, WPlus = true, Coupling = ProjectionCoupling.Independent };
        var targets = rand(2, 3, 16, 16) * 2 - 1;
        var meanZ = randn(64, 8);
        var noise = g.MakeNoise(2);
        var eps = randn(6, 2, g.Config.NLatent, 8);
        var p = new Projector(g, opts);
        var both = p.Project(targets, new SlicedDraws(meanZ, noise, eps, 0, 2));
        for (int i = 0; i < 2; i++)
        {
            var single = p.Project(targets.narrow(0, i, 1), new SlicedDraws(meanZ, noise, eps, i, 1));
            var diff = (single.Latent - both.Latent.narrow(0, i, 1)).abs().max().item<float>();
            Assert.True(diff < 1e-4, $"image {i}: batched latent differs from the single projection by {diff}");
            Assert.True(single.Noises[0].allclose(both.Noises[0].narrow(0, i, 1), 1e-4, 1e-4));
            // Each image's own loss in the batch's history is the loss of projecting it alone (its loss-plot curve).
            for (int s = 0; s < 6; s++)
            {
                double own = both.History[s].ImageLosses![i], alone = single.History[s].Loss;
                Assert.True(Math.Abs(own - alone) <= 1e-4 * Math.Max(1, Math.Abs(alone)), $"step {s}, image {i}: own loss {own} vs alone {alone}");
            }
        }
        Assert.All(both.History, h => Assert.True(Math.Abs(h.ImageLosses!.Sum() - h.Loss) <= 1e-5 * Math.Max(1, Math.Abs(h.Loss)), $"step {h.Step}: {h.ImageLosses!.Sum()} vs {h.Loss}"));
        Assert.Equal(6, both.History.Count);
        Assert.Equal(0.0, both.History[0].Lr); // the lr ramp starts at 0, as in projector.py
    }

    [Fact]
    public void ProjectionWithoutAnyLossFailsClearly()
    {
        using var scope = NewDisposeScope();
        var p = new Projector(new Generator(Tiny), new ProjectorOptions { MseWeight = 0 });
        var e = Assert.Throws<InvalidOperationException>(() => p.Project(zeros(1, 3, 16, 16)));
        Assert.Contains("MSE weight", e.Message);
    }

    [Fact]
    public void CheckpointWithoutGeneratorNamesItsKeys()
    {
        var tree = new OrderedDictionary<string, object?> { ["model"] = new OrderedDictionary<string, object?>(), ["epoch"] = 3L };
        var e = Assert.Throws<InvalidDataException>(() => StyleGan2Checkpoint.FromTree(tree, "x.pt"));
        Assert.Contains("model, epoch", e.Message);
    }

    [Fact]
    public void PanoramaTilingPlacesPairColumnsAtMultiplesOfS()
    {
        using var scope = NewDisposeScope();
        // Pair k holds the value k everywhere, so the canvas shows which pair supplied each column.
        long s = 8;
        var pairs = Enumerable.Range(0, 3).Select(k => full([1, 3, s, 2 * s], (float)k)).ToList();
        var canvas = Soat.Tile(pairs, s);
        Assert.Equal(4 * s, canvas.shape[3]);
        var row = canvas[0, 0, 0].data<float>().ToArray();
        // pair 0: [0, 1.5S); pair 1: [1.5S, 2.5S); pair 2: [2.5S, 4S)
        Assert.All(row[..12], v => Assert.Equal(0f, v));
        Assert.All(row[12..20], v => Assert.Equal(1f, v));
        Assert.All(row[20..], v => Assert.Equal(2f, v));
    }
}

public sealed class SoatSinGanTests
{
    [Theory]
    [InlineData(SinGanMode.Horizontal, 16, 32)]
    [InlineData(SinGanMode.Vertical, 32, 16)]
    [InlineData(SinGanMode.Reflect, 16, 32)]
    [InlineData(SinGanMode.Circular, 16, 32)]
    public void WidensTheCanvasAfterTheFirstBlock(SinGanMode mode, long h, long w)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var soat = new Soat(new Generator(new GeneratorConfig(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 6, [16] = 4 })));
        var img = soat.SinGan(soat.GetStyles(randn(1, 8)), mode);
        Assert.Equal([1L, 3, h, w], img.shape);
        Assert.True(img.abs().max().item<float>() <= 1f);
    }
}

public sealed class StyleGan2MetricsAdapterTests
{
    [Fact]
    public void PplAdapterMapsAndSynthesisesLikeTheGenerator()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = new Generator(new GeneratorConfig(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 6, [16] = 4 }));
        var ppl = StyleGan2Metrics.ForPpl(g);
        Assert.Equal(8, ppl.ZDim);
        var z = randn(2, 8);
        var w = ppl.Mapping(z);
        Assert.True(w.allclose(g.Map(z), 0, 0));
        using var rng = new torch.Generator(5);
        var noise = ppl.MakeNoise(rng);
        Assert.Equal(g.Config.NumLayers, noise.Count);
        Assert.Equal([1L, 1, 16, 16], noise[^1].shape);
        var expected = g.Forward([w], new GenerateOptions { InputIsLatent = true, Noise = noise }).Image;
        Assert.True(ppl.Synthesis(w, noise).allclose(expected, 0, 0));
    }
}
