using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using Pipeline.Tests;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// Style mixing in <see cref="StyleGan1Trainer"/> (train.py --mixing). The public fixtures record no mixing training
/// iteration, so: both passes' images are checked against the reference's recorded crossovers (g_style_mixing), a
/// mixing iteration with explicit inject indices is checked against the same iteration composed by hand (per-level
/// styles listed explicitly), and drawn crossovers are shown to replay.
/// </summary>
[Trait("Category", "Parity")]
public sealed class StyleGan1MixingTrainTests
{
    /// <summary>Every recorded random-crossover G call: the trainer's D-pass and G-pass images equal the reference's.</summary>
    [Fact]
    public void BothPassesReplayTheReferenceCrossovers()
    {
        int found = 0;
        foreach (var name in TestPaths.FixtureCases("stylegan1", "meta.json").Where(RecordsCrossover))
        {
            using var fx = new FixtureCase(Path.Combine(TestPaths.RequireFixtureDir("stylegan1"), name));
            foreach (var call in fx.Calls.Where(IsCrossover))
            {
                using var scope = NewDisposeScope();
                found++;
                var codes = new StyleGan1Codes(call.Strs("input").Select(fx.In).ToArray(), call.OptInts("inject_index"));
                int step = call.Int("step");
                double alpha = call.Dbl("alpha", -1);
                var noise = call.Strs("noise").Select(fx.In).ToArray();
                var g = fx.Generator(call.Str("model"));
                using var trainer = new StyleGan1Trainer(g, fx.Generator(call.Str("model")), fx.Checkpoint().CreateDiscriminator(), new StyleGan1TrainOptions { Mixing = true });
                var expected = fx.Io[call.Str("out")];
                var ds = trainer.DiscriminatorStep(zeros_like(expected), codes, step, alpha, noise);
                fx.Check(call.Str("out"), ds.FakeImage, "trainer D pass");
                var gs = trainer.GeneratorStep(codes, step, alpha, noise);
                fx.Check(call.Str("out"), gs.FakeImage, "trainer G pass");
            }
            Assert.True(fx.Failures.Count == 0, string.Join("\n", fx.Failures));
        }
        Requirement.SkipWhen(found == 0, "no stylegan1 fixture records a random crossover (inject_index)");
    }

    /// <summary>
    /// A mixing iteration on train_step's weights with explicit crossovers (D pass [z1, z2] switching after level 0,
    /// G pass [z2, z1] after level 1) equals the hand-composed one: fake image, D values and gradients, G loss and
    /// gradients. Self-consistency only: no reference fixture records a mixing iteration.
    /// </summary>
    [Fact]
    public void ExplicitCrossoversEqualTheHandComposedIteration()
    {
        using var scope = NewDisposeScope();
        using var fx = TrainStep(out var call);
        int step = call.Int("step");
        Assert.True(step >= 2, "the check needs two distinct crossover levels");
        double alpha = call.Dbl("alpha", -1);
        Tensor z1 = fx.In("in.z1"), z2 = fx.In("in.z2"), real = fx.In("in.real"), eps = fx.In("in.eps");
        Tensor[] noise1 = Noise(fx, "noise1", step), noise2 = Noise(fx, "noise2", step);
        var ck = fx.Checkpoint();

        var g = ck.CreateGenerator(useRunningAverage: false);
        var d = ck.CreateDiscriminator();
        using var trainer = new StyleGan1Trainer(g, ck.CreateGenerator(useRunningAverage: true), d);
        var ds = trainer.DiscriminatorStep(real, new StyleGan1Codes([z1, z2], [0]), step, alpha, noise1, eps);
        var dGrads = d.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone());
        var gs = trainer.GeneratorStep(new StyleGan1Codes([z2, z1], [1]), step, alpha, noise2);
        Assert.Equal(new[] { 0 }, ds.InjectIndex!);
        Assert.Equal(new[] { 1 }, gs.InjectIndex!);

        var g2 = ck.CreateGenerator(useRunningAverage: false);
        var d2 = ck.CreateDiscriminator();
        Tensor fake;
        using (no_grad())
        {
            Tensor w1 = g2.Map(z1), w2 = g2.Map(z2);
            fake = g2.Synthesis.ForwardLevels(Levels(step, w1, w2, lastOfFirst: 0), noise1, step, alpha);
            Close(fake, ds.FakeImage, "D-pass fake");
            // Mixing does something: neither code alone gives this image.
            Assert.True((fake - g2.Synthesis.ForwardLevels(Levels(step, w1, w1, 0), noise1, step, alpha)).abs().max().item<float>() > 1e-3);
            Assert.True((fake - g2.Synthesis.ForwardLevels(Levels(step, w2, w2, 0), noise1, step, alpha)).abs().max().item<float>() > 1e-3);
        }
        var v = StyleGan1Losses.WganGpDiscriminator(d2, real, fake, eps, step, alpha);
        Close(v.DiscLoss, ds.Values.DiscLoss, "D loss");
        Close(v.GradPenalty, ds.Values.GradPenalty, "gradient penalty");
        var hand = d2.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!);
        Assert.Equal(hand.Keys.Order(), dGrads.Keys.Order());
        foreach (var (n, grad) in hand) Close(grad, dGrads[n], $"D grad {n}");

        // G pass against the trainer's D after its step (frozen there, as in train.py).
        var gFake = g2.Synthesis.ForwardLevels(Levels(step, g2.Map(z2), g2.Map(z1), lastOfFirst: 1), noise2, step, alpha);
        var gLoss = StyleGan1Losses.Generator(d.Score(gFake, step, alpha), "wgan-gp");
        gLoss.backward();
        Close(gLoss, gs.Loss, "G loss");
        var trained = g.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        foreach (var (n, p) in g2.named_parameters())
        {
            Assert.Equal(p.grad is null, trained[n] is null);
            if (p.grad is not null) Close(p.grad, trained[n]!, $"G grad {n}");
        }
        Assert.NotNull(trained["style.1.linear.weight_orig"]);
    }

    /// <summary>Without inject indices the trainer draws one as the reference does, reports it, and passing it back replays the step.</summary>
    [Fact]
    public void DrawnCrossoverIsReportedAndReplays()
    {
        using var scope = NewDisposeScope();
        using var fx = TrainStep(out var call);
        int step = call.Int("step");
        double alpha = call.Dbl("alpha", -1);
        var ck = fx.Checkpoint();
        var codes = new StyleGan1Codes([fx.In("in.z1"), fx.In("in.z2")]);
        StyleGan1DiscriminatorStep Run(StyleGan1Codes c, Random? r)
        {
            using var trainer = new StyleGan1Trainer(ck.CreateGenerator(false), ck.CreateGenerator(true), ck.CreateDiscriminator(), random: r);
            return trainer.DiscriminatorStep(fx.In("in.real"), c, step, alpha, Noise(fx, "noise1", step), fx.In("in.eps"));
        }

        var drawn = Run(codes, new Random(7));
        var index = Assert.Single(drawn.InjectIndex!);
        Assert.InRange(index, 0, step - 1);
        var replay = Run(codes with { InjectIndex = drawn.InjectIndex }, null);
        Close(replay.FakeImage, drawn.FakeImage, "replayed fake");
        Close(replay.Values.DiscLoss, drawn.Values.DiscLoss, "replayed D loss");

        var seen = Enumerable.Range(0, 64).Select(s => StyleSchedule.DrawInjectIndex(1, step, new Random(s))[0]).ToHashSet();
        Assert.Equal(Enumerable.Range(0, step).ToHashSet(), seen);
        var two = StyleSchedule.DrawInjectIndex(2, 3, new Random(3));
        Assert.True(two[0] < two[1] && two[1] < 3, "two crossovers are distinct, sorted levels below step");
    }

    /// <summary>train.py's code draw: with --mixing and random() &lt; 0.9 randn(4, B, D) as two pairs, else randn(2, B, D) as two singles.</summary>
    [Theory]
    [InlineData(true, 0.5, 2)]
    [InlineData(true, 0.95, 1)]
    [InlineData(false, 0.5, 1)]
    public void CodesAreDrawnAsTrainPyDoes(bool mixing, double coin, int perPass)
    {
        using var scope = NewDisposeScope();
        var cfg = new StyleGan1GeneratorConfig { CodeDim = 8, NMlp = 1, Channels = [8, 8], FusedLevels = new HashSet<int>() };
        using var g = new StyledGenerator(cfg);
        using var d = new Discriminator(new StyleGan1DiscriminatorConfig { FromRgbChannels = [4, 4], FusedBlocks = new HashSet<int>() });
        using var trainer = new StyleGan1Trainer(g, g, d, new StyleGan1TrainOptions { Mixing = mixing }, new Coin(coin));
        using var gen = new torch.Generator(3);
        var (dPass, gPass) = trainer.SampleCodes(5, gen);
        using var again = new torch.Generator(3);
        var all = randn([2 * perPass, 5, 8], generator: again).unbind(0);
        Assert.Equal(perPass, dPass.Z.Count);
        Assert.Equal(perPass, gPass.Z.Count);
        for (int k = 0; k < perPass; k++)
        {
            Close(all[k], dPass.Z[k], "D-pass code");
            Close(all[perPass + k], gPass.Z[k], "G-pass code");
        }
        Assert.Null(dPass.InjectIndex);
    }

    /// <summary>The train_iteration call's recorded codes and inject_index {"d_pass", "g_pass"} become the passes' codes.</summary>
    [Fact]
    public void RecordedCrossoversAreParsed()
    {
        using var scope = NewDisposeScope();
        var io = new Dictionary<string, Tensor> { ["in.z1"] = randn(2, 3, 4), ["in.z2.0"] = randn(3, 4), ["in.z2.1"] = randn(3, 4) };
        using var doc = JsonDocument.Parse("""{"op": "train_iteration", "mixing": true, "inject_index": {"d_pass": [1], "g_pass": [0]}}""");
        var d = TrainCodes.Parse(doc.RootElement, io, "z1", "d_pass");
        var g = TrainCodes.Parse(doc.RootElement, io, "z2", "g_pass");
        Assert.Equal(2, d.Z.Count);
        Assert.Equal(new[] { 1 }, d.InjectIndex!);
        Close(io["in.z1"][1], d.Z[1], "second D-pass code");
        Assert.Equal(new[] { 0 }, g.InjectIndex!);
        Assert.Same(io["in.z2.1"], g.Z[1]);

        using var unrecorded = JsonDocument.Parse("""{"op": "train_iteration", "mixing": true}""");
        Assert.Throws<InvalidDataException>(() => TrainCodes.Parse(unrecorded.RootElement, io, "z1", "d_pass"));
        using var single = JsonDocument.Parse("""{"op": "train_iteration", "mixing": true, "inject_index": {"d_pass": null, "g_pass": [2]}}""");
        var one = new Dictionary<string, Tensor> { ["in.z1"] = randn(3, 4), ["in.z2"] = randn(3, 4) };
        Assert.Null(TrainCodes.Parse(single.RootElement, one, "z1", "d_pass").InjectIndex);
        Assert.Throws<InvalidDataException>(() => TrainCodes.Parse(single.RootElement, one, "z2", "g_pass"));
    }

    private static bool IsCrossover(JsonElement call) =>
        call.OptStr("op") == "G" && call.OptInts("inject_index") is not null && call.Range() is null;

    private static bool RecordsCrossover(string name)
    {
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.FixtureRoot!, "stylegan1", name, "meta.json")));
        return meta.RootElement.TryGetProperty("calls", out var calls) && calls.EnumerateArray().Any(IsCrossover);
    }

    private static FixtureCase TrainStep(out JsonElement call)
    {
        var name = TestPaths.FixtureCases("stylegan1", "meta.json")
            .FirstOrDefault(n => File.ReadAllText(Path.Combine(TestPaths.FixtureRoot!, "stylegan1", n, "meta.json")).Contains("\"train_iteration\"", StringComparison.Ordinal));
        Requirement.SkipWhen(name is null, "no stylegan1 train_iteration fixture");
        var fx = new FixtureCase(Path.Combine(TestPaths.RequireFixtureDir("stylegan1"), name!));
        call = fx.Calls.First(c => c.OptStr("op") == "train_iteration");
        return fx;
    }

    private static Tensor[] Noise(FixtureCase fx, string set, int step) => Enumerable.Range(0, step + 1).Select(i => fx.In($"in.{set}.{i}")).ToArray();

    /// <summary>Per-level styles written out: levels 0..lastOfFirst use <paramref name="first"/>, the rest <paramref name="second"/>.</summary>
    private static Tensor[] Levels(int step, Tensor first, Tensor second, int lastOfFirst) =>
        Enumerable.Range(0, step + 1).Select(i => i <= lastOfFirst ? first : second).ToArray();

    /// <summary>Same computation two ways in float32: agreement to rounding, far inside every fixture tolerance.</summary>
    private static void Close(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var diff = (expected.detach() - actual.detach()).abs().max().item<float>();
        var scale = Math.Max(1f, expected.detach().abs().max().item<float>());
        Assert.True(diff <= 1e-6f * scale, $"{what}: max |diff| {diff}");
    }

    /// <summary>Python's random.random() pinned to one value (the mixing coin); the rest as System.Random.</summary>
    private sealed class Coin(double value) : Random(0)
    {
        public override double NextDouble() => value;
    }
}
