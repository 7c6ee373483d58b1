using Pipeline.Engine;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>StyleGan1SampleOptions.Latents: explicit first latents replace the seeds' z, the seeds still seed the noise.</summary>
public sealed class StyleGan1SamplerLatentsTests
{
    private static StyledGenerator Tiny()
    {
        manual_seed(1);
        var g = new StyledGenerator(new StyleGan1GeneratorConfig { CodeDim = 8, NMlp = 2, Channels = [8, 8, 6, 4, 4], FusedLevels = new HashSet<int> { 3, 4 } });
        using var _ = no_grad();
        foreach (var (name, p) in g.named_parameters())
            if (name.Contains("noise", StringComparison.Ordinal)) p.normal_();
        g.eval();
        return g;
    }

    private static Tensor SeedLatents(params long[] seeds) => cat(seeds.Select(s => SeededLatents.Z(s, 8)).ToArray(), 0);

    [Fact]
    public void LatentsOfTheSeedsGiveTheSameImagesAsNoLatents()
    {
        using var scope = NewDisposeScope();
        using var g = Tiny();
        var o = new StyleGan1SampleOptions { Seeds = [3, 4, 5], Step = 2, Truncation = 1, BatchSize = 2, MixSeeds = [7, 8, 9], Crossovers = [1, 2, 1] };
        var plain = StyleGan1Sampler.Sample(g, o, ct: TestContext.Current.CancellationToken);
        var explicitZ = StyleGan1Sampler.Sample(g, o with { Latents = SeedLatents(3, 4, 5) }, ct: TestContext.Current.CancellationToken);
        Assert.True(plain.equal(explicitZ).all().item<bool>(), "explicit seed latents changed the images");
    }

    [Fact]
    public void ExplicitLatentsReplaceTheZButNotTheNoise()
    {
        using var scope = NewDisposeScope();
        using var g = Tiny();
        var o = new StyleGan1SampleOptions { Seeds = [3, 4], Step = 2, Truncation = 1, BatchSize = 2, Latents = SeedLatents(20, 20) };
        var images = StyleGan1Sampler.Sample(g, o, ct: TestContext.Current.CancellationToken);
        using var _ = no_grad();
        for (int i = 0; i < 2; i++)
        {
            using var gen = new torch.Generator((ulong)(3 + i + 0x5EED));
            var expected = g.Forward(SeededLatents.Z(20, 8), new StyleGan1ForwardOptions { Step = 2, Noise = g.RandomNoise(1, 2, gen) });
            Assert.True((expected - images[i..(i + 1)]).abs().max().item<float>() < 1e-4, $"image {i} is not z(20) with the noise of seed {3 + i}");
        }
        Assert.True((images[0] - images[1]).abs().max().item<float>() > 1e-4, "noise did not follow the seeds");
    }

    [Fact]
    public void LatentsOfTheWrongShapeAreRejected()
    {
        using var g = Tiny();
        using var z = zeros(3, 8);
        var e = Assert.Throws<ArgumentException>(() => StyleGan1Sampler.Sample(g, new StyleGan1SampleOptions { Seeds = [1, 2], Step = 1, Truncation = 1, Latents = z }));
        Assert.Contains("one z per seed", e.Message, StringComparison.Ordinal);
    }
}
