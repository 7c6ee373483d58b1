using Pipeline.Engine;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>Style schedule, grid composition and family detection, checked against definitions (no fixtures needed).</summary>
public sealed class StyleMixingTests
{
    private static StyledGenerator Tiny()
    {
        manual_seed(1);
        var g = new StyledGenerator(new StyleGan1GeneratorConfig { CodeDim = 8, NMlp = 2, Channels = [8, 8, 6, 4, 4], FusedLevels = new HashSet<int> { 3, 4 } });
        using var _ = no_grad();
        // Noise strengths start at 0; give every level some so noise matters in these checks.
        foreach (var (name, p) in g.named_parameters())
            if (name.Contains("noise", StringComparison.Ordinal)) p.normal_();
        g.eval();
        return g;
    }

    [Theory]
    [InlineData(4, 0, 1, "1,1,0,0,0")]
    [InlineData(4, 2, 3, "0,0,1,1,0")]
    [InlineData(3, 4, 8, "0,0,0,0")]
    public void RangeFeedsSecondStyleToItsLevels(int step, int lo, int hi, string expected) =>
        Assert.Equal(expected, string.Join(",", StyleSchedule.Resolve(2, step, new MixingRange(lo, hi))));

    [Fact]
    public void CrossoverSwitchesAfterEachInjectIndex()
    {
        Assert.Equal([0, 0, 0, 0, 1], StyleSchedule.Resolve(2, 4, null, [3]));
        Assert.Equal([0, 1, 2, 2], StyleSchedule.Resolve(3, 3, null, [1, 0]));
        Assert.Throws<ArgumentException>(() => StyleSchedule.Resolve(3, 1, null));
        var drawn = StyleSchedule.Resolve(2, 5, null, random: new Random(3));
        Assert.Equal(0, drawn[0]);
        Assert.Equal(1, drawn[^1]);
    }

    [Theory]
    [InlineData("coarse", 0, 1)]
    [InlineData("Middle", 2, 3)]
    [InlineData("fine", 4, 8)]
    [InlineData("3-5", 3, 5)]
    public void RangesParse(string text, int lo, int hi) => Assert.Equal(new MixingRange(lo, hi), MixingRange.Parse(text));

    [Fact]
    public void GridCellsEqualTwoStyleForwardWithTheRange()
    {
        using var scope = NewDisposeScope();
        using var g = Tiny();
        var o = new StyleMixingGridOptions { RowSeeds = [5, 6], ColumnSeeds = [7, 8, 9], Step = 3, Range = MixingRange.Middle, Truncation = 0.7, NoiseSeed = 11, MeanStyleChunks = 2, MeanStyleChunkSize = 64, BatchSize = 4 };
        using var grid = StyleMixingGrid.Render(g, o, ct: TestContext.Current.CancellationToken);
        Assert.Equal(6, grid.CellInfo.Count);
        Assert.Equal([6L, 3, 32, 32], grid.Cells.shape);

        using var _ = no_grad();
        using var gen = new torch.Generator(11);
        var noise = g.RandomNoise(1, 3, gen);
        Tensor mean;
        using (var mg = new torch.Generator(0))
            mean = g.GetMeanStyle(Enumerable.Range(0, 2).Select(_ => randn(64, 8, generator: mg)).ToArray());
        var opt = new StyleGan1ForwardOptions { Step = 3, Noise = noise, MeanStyle = mean, StyleWeight = 0.7, MixingRange = MixingRange.Middle };
        for (int i = 0; i < grid.CellInfo.Count; i++)
        {
            var c = grid.CellInfo[i];
            var expected = g.Forward([SeededLatents.Z(c.RowSeed, 8), SeededLatents.Z(c.ColumnSeed, 8)], opt);
            AssertClose(expected, grid.Cells[i..(i + 1)]);
        }
        var row1 = g.Forward(SeededLatents.Z(6, 8), opt with { MixingRange = null });
        AssertClose(row1, grid.RowImages[1..2]);
        var col2 = g.Forward(SeededLatents.Z(9, 8), opt with { MixingRange = null });
        AssertClose(col2, grid.ColumnImages[2..3]);
        // The middle range really mixes: a cell differs from both of its sources.
        Assert.True((grid.Cells[5] - grid.RowImages[1]).abs().max().item<float>() > 1e-3);
        Assert.True((grid.Cells[5] - grid.ColumnImages[2]).abs().max().item<float>() > 1e-3);
    }

    [Fact]
    public void SeededSamplesAreBatchInvariantAndMatchForward()
    {
        using var scope = NewDisposeScope();
        using var g = Tiny();
        var mean = StyleGan1Sampler.DefaultMeanStyle(g);
        var o = new StyleGan1SampleOptions { Seeds = [10, 11, 12], Step = 2, Truncation = 0.5, MeanStyle = mean, BatchSize = 2 };
        var batched = StyleGan1Sampler.Sample(g, o, ct: TestContext.Current.CancellationToken);
        var single = StyleGan1Sampler.Sample(g, o with { Seeds = [12], BatchSize = 1 }, ct: TestContext.Current.CancellationToken);
        AssertClose(batched[2..3], single);
        using var _ = no_grad();
        using var gen = new torch.Generator(12 + 0x5EED);
        var expected = g.Forward(SeededLatents.Z(12, 8), new StyleGan1ForwardOptions { Step = 2, Noise = g.RandomNoise(1, 2, gen), MeanStyle = mean, StyleWeight = 0.5 });
        AssertClose(expected, single);
        Assert.True((batched[0] - batched[1]).abs().max().item<float>() > 1e-3, "different seeds gave the same image");
    }

    [Fact]
    public void RangeAboveTheOutputLevelIsRejected()
    {
        using var g = Tiny();
        var o = new StyleMixingGridOptions { RowSeeds = [1], ColumnSeeds = [2], Step = 2, Range = MixingRange.Fine };
        var e = Assert.Throws<ArgumentException>(() => StyleMixingGrid.Render(g, o, ct: TestContext.Current.CancellationToken));
        Assert.Contains("fine", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainedStepIsTheLastLevelWithNoiseStrength()
    {
        using var g = Tiny();
        using (no_grad())
            foreach (var (name, p) in g.named_parameters())
                if (name.StartsWith("generator.progression.3.", StringComparison.Ordinal) || name.StartsWith("generator.progression.4.", StringComparison.Ordinal))
                    if (name.Contains("noise", StringComparison.Ordinal)) p.zero_();
        Assert.Equal(2, StyleMixingGrid.DetectTrainedStep(g));
    }

    [Fact]
    public void FamilyIsDetectedFromKeys()
    {
        using var g = new StyledGenerator(new StyleGan1GeneratorConfig { CodeDim = 4, NMlp = 1, Channels = [4, 4] , FusedLevels = new HashSet<int>() });
        Assert.Equal(GanFamily.StyleGan1, ModelFamily.Detect(g.state_dict().Keys));
        Assert.Equal(GanFamily.StyleGan1, ModelFamily.Detect(["generator", "discriminator", "g_optimizer", "d_optimizer", "g_running"]));
        Assert.Equal(GanFamily.StyleGan2, ModelFamily.Detect(["g", "d", "g_ema", "g_optim", "d_optim"]));
        Assert.Equal(GanFamily.StyleGan2, ModelFamily.Detect(["style.1.weight", "input.input", "conv1.conv.weight", "conv1.conv.modulation.weight", "to_rgb1.conv.weight", "convs.0.conv.weight", "noises.noise_0"]));
        Assert.Equal(GanFamily.Unknown, ModelFamily.Detect(["encoder.0.weight", "decoder.0.bias"]));
    }

    private static void AssertClose(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        var diff = (expected.cpu() - actual.cpu()).abs().max().item<float>();
        Assert.True(diff < 1e-4f, $"max |diff| {diff}");
    }
}
