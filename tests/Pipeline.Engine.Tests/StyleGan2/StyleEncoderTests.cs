using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>The W+ encoder: its output shape, its strict state_dict round trip, and that training it lowers the loss.</summary>
// Serial: EncoderTrainer seeds and draws from torch's global generator, and the loss test's threshold holds for its own
// seeded draws; a class drawing from that generator in parallel would change them (and be re-seeded under).
[Collection(Foundation.ProcessWideStateCollection.Name)]
public sealed class StyleEncoderTests
{
    // 32 px: n_latent 8, three backbone stages (16, 8, 4), the smallest size with all three pyramid levels.
    private static GeneratorConfig TinyG => new(32, 16, 2, new Dictionary<int, int> { [4] = 16, [8] = 16, [16] = 12, [32] = 8 });

    /// <summary>A random tiny generator in eval mode, its weights drawn after manual_seed(<paramref name="seed"/>).</summary>
    private static Generator TinyGenerator(long seed)
    {
        manual_seed(seed);
        var g = new Generator(TinyG);
        g.eval();
        return g;
    }

    [Fact]
    public void OutputIsOneStyleRowPerGeneratorLatent()
    {
        using var scope = NewDisposeScope();
        var cfg = StyleEncoderConfig.For(TinyG);
        Assert.Equal([32, 64, 128], cfg.StageChannels);
        var e = new StyleEncoder(cfg);
        var w = e.forward(rand(3, 3, 32, 32) * 2 - 1);
        Assert.Equal([3L, 8, 16], w.shape);
        // Other input sizes are resized to the encoder's own size first.
        Assert.Equal([2L, 8, 16], e.forward(zeros(2, 3, 64, 64)).shape);
        // Coarse rows 0-2 read 4x4, 3-5 read 8x8, 6-7 read 16x16: zero, one and two stride-2 convs per head.
        var keys = e.state_dict().Keys.ToHashSet();
        Assert.DoesNotContain("heads.2.convs.0.weight", keys);
        Assert.Contains("heads.3.convs.0.weight", keys);
        Assert.DoesNotContain("heads.3.convs.2.weight", keys);
        Assert.Contains("heads.7.convs.2.weight", keys);
    }

    [Fact]
    public void UntrainedEncoderStartsNearTheMeanLatent()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var avg = randn(16);
        var e = new StyleEncoder(StyleEncoderConfig.For(TinyG), avg);
        var w = e.forward(rand(4, 3, 32, 32) * 2 - 1);
        // Heads start with small weights, so the initial code is the mean latent plus a small offset.
        var offset = (w - avg).abs().mean().item<float>();
        Assert.InRange(offset, 1e-6f, 0.1f * avg.abs().mean().item<float>());
    }

    [Fact]
    public void CheckpointRoundTripLoadsStrictlyAndReproducesTheOutput()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var e = new StyleEncoder(StyleEncoderConfig.For(TinyG), randn(16));
        var x = rand(2, 3, 32, 32) * 2 - 1;
        var path = Path.Combine(Path.GetTempPath(), $"enc-{Guid.NewGuid():N}.pt");
        try
        {
            EncoderCheckpoint.Save(path, e, 42, new Dictionary<string, object?> { ["note"] = "test" });
            var (loaded, it) = EncoderCheckpoint.Load(path);
            Assert.Equal(42, it);
            Assert.Equal(e.Config.NLatent, loaded.Config.NLatent);
            Assert.Equal(e.Config.CoarseRows, loaded.Config.CoarseRows);
            Assert.Equal(e.Config.MiddleRows, loaded.Config.MiddleRows);
            Assert.Equal(e.state_dict().Keys.Order(), loaded.state_dict().Keys.Order());
            using (no_grad())
                Assert.Equal(0f, (e.forward(x) - loaded.forward(x)).abs().max().item<float>());
        }
        finally { File.Delete(path); }

        // Strict: a missing key and an extra key are both errors, not silently random weights.
        var sd = e.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        var missing = new Dictionary<string, Tensor>(sd);
        missing.Remove("heads.0.linear.bias");
        Assert.Throws<InvalidDataException>(() => StyleEncoder.FromStateDict(missing));
        var extra = new Dictionary<string, Tensor>(sd) { ["heads.0.extra"] = zeros(1) };
        Assert.Throws<InvalidDataException>(() => StyleEncoder.FromStateDict(extra));
    }

    [Fact]
    public void TrainingOnATinyGeneratorLowersTheLoss()
    {
        using var scope = NewDisposeScope();
        var g = TinyGenerator(11);
        var before = g.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        using var trainer = new EncoderTrainer(g, null, new EncoderTrainOptions { Batch = 8, Lr = 1e-3, Seed = 11 });
        var losses = new List<double>();
        for (int i = 0; i < 80; i++)
        {
            using var step = NewDisposeScope();
            losses.Add(trainer.Step().Loss);
        }
        double first = losses.Take(15).Average(), last = losses.TakeLast(15).Average();
        Assert.True(last < 0.8 * first, $"loss did not decrease: first 15 steps {first:G4}, last 15 {last:G4}");
        // Only the encoder learns: every generator weight is bit-identical after training.
        foreach (var (k, v) in g.state_dict())
            Assert.True(v.eq(before[k]).all().item<bool>(), $"generator weight {k} changed");
        trainer.Dispose();
        Assert.All(g.parameters(), p => Assert.True(p.requires_grad));
    }

    [Fact]
    public void CosineScheduleFallsFromTheRateToZeroAndHoldsZeroAfterwards()
    {
        using var scope = NewDisposeScope();
        var g = TinyGenerator(13);
        const double lr = 1e-3;
        using var trainer = new EncoderTrainer(g, null, new EncoderTrainOptions { Batch = 2, Lr = lr, Seed = 13, LrDecaySteps = 4 });
        var rates = new List<double>();
        for (int i = 0; i < 4; i++)
        {
            using var step = NewDisposeScope();
            rates.Add(trainer.LearningRate);
            trainer.Step();
        }
        // CosineAnnealingLR's definition: lr_t = lr * (1 + cos(pi * t / T)) / 2 for t = 0..T.
        for (int t = 0; t <= 4; t++)
        {
            double want = lr * (1 + Math.Cos(Math.PI * t / 4)) / 2;
            double got = t < 4 ? rates[t] : trainer.LearningRate;
            Assert.True(Math.Abs(got - want) < 1e-12, $"step {t}: lr {got:G6}, cosine gives {want:G6}");
        }
        // Past the horizon the rate stays 0 (a bare cosine would climb again), so further steps leave the weights alone.
        var before = trainer.Encoder.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        for (int i = 0; i < 2; i++)
        {
            using var step = NewDisposeScope();
            trainer.Step();
            Assert.Equal(0, trainer.LearningRate);
        }
        foreach (var (k, v) in trainer.Encoder.state_dict())
            Assert.True(v.eq(before[k]).all().item<bool>(), $"encoder weight {k} changed at learning rate 0");
    }

    [Fact]
    public void WithoutAScheduleTheRateStaysConstant()
    {
        using var scope = NewDisposeScope();
        var g = TinyGenerator(14);
        using var trainer = new EncoderTrainer(g, null, new EncoderTrainOptions { Batch = 2, Lr = 2e-4, Seed = 14 });
        for (int i = 0; i < 3; i++)
        {
            using var step = NewDisposeScope();
            trainer.Step();
            Assert.Equal(2e-4, trainer.LearningRate);
        }
    }
}

/// <summary>How a projection picks its start and its default length.</summary>
public sealed class ProjectionInitTests
{
    [Fact]
    public void AutoUsesTheEncoderOnlyWhenThereIsOneAndAnExplicitEncoderRequestNeverFallsBack()
    {
        Assert.Equal(ProjectionInit.Encoder, ProjectionInits.Resolve(null, encoderAvailable: true));
        Assert.Equal(ProjectionInit.Mean, ProjectionInits.Resolve("auto", encoderAvailable: false));
        Assert.Equal(ProjectionInit.Mean, ProjectionInits.Resolve("mean", encoderAvailable: true));
        Assert.Equal(ProjectionInit.Encoder, ProjectionInits.Resolve("Encoder", encoderAvailable: true));
        Assert.Throws<ArgumentException>(() => ProjectionInits.Resolve("encoder", encoderAvailable: false));
        Assert.Throws<ArgumentException>(() => ProjectionInits.Resolve("zero", encoderAvailable: true));
        Assert.Equal(100, ProjectionInits.DefaultSteps(ProjectionInit.Encoder));
        Assert.Equal(1000, ProjectionInits.DefaultSteps(ProjectionInit.Mean));
    }

    [Fact]
    public void ProjectorStartsFromTheGivenLatentAndChecksItsShape()
    {
        using var scope = NewDisposeScope();
        manual_seed(2);
        var g = new Generator(new GeneratorConfig(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 4 }));
        var p = new Projector(g, new ProjectorOptions { Steps = 0, WPlus = true, MseWeight = 1, NMeanLatent = 64 });
        var start = randn(2, g.Config.NLatent, 8);
        var r = p.Project(rand(2, 3, 16, 16) * 2 - 1, start, new RandomProjectorDraws(1));
        Assert.True(r.Latent.eq(start).all().item<bool>());
        Assert.Throws<ArgumentException>(() => p.Project(rand(2, 3, 16, 16), randn(2, 8), new RandomProjectorDraws(1)));
    }
}
