using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// The "train_iteration" fixture op: one train.py iteration from a checkpoint with Adam state, replayed through
/// <see cref="StyleGan1Trainer"/> — D step (losses, accumulated gradients, Adam), G step (loss, gradients, two-group
/// Adam), EMA into g_running — and the other loss's values on the starting weights. Mixing runs replay the recorded
/// codes and crossovers.
/// </summary>
internal static class TrainCalls
{
    public static void Run(FixtureCase fx, JsonElement call)
    {
        int step = call.Int("step");
        double alpha = call.Dbl("alpha", -1);
        var loss = call.Str("loss");
        string other = loss == "wgan-gp" ? "r1" : "wgan-gp";
        var ck = fx.Checkpoint();
        var root = (OrderedDictionary<string, object?>)fx.Tree()!;
        var real = fx.In("in.real");
        Tensor[] Noise(string set) => Enumerable.Range(0, step + 1).Select(i => fx.In($"in.{set}.{i}")).ToArray();
        Tensor[] noise1 = Noise("noise1"), noise2 = Noise("noise2");
        // With --mixing the recorded crossovers (inject_index.d_pass / g_pass) are replayed with the codes.
        var codes1 = TrainCodes.Parse(call, fx.Io, "z1", "d_pass");
        var codes2 = TrainCodes.Parse(call, fx.Io, "z2", "g_pass");
        var options = new StyleGan1TrainOptions
        {
            Loss = loss,
            Mixing = call.TryGetProperty("mixing", out var mixing) && mixing.GetBoolean(),
            Lr = call.Dbl("lr", 0.001),
            MappingLr = call.Dbl("mapping_lr", 1e-5),
            EmaDecay = call.Dbl("ema_decay", 0.999),
            WganDrift = call.Dbl("wgan_drift", 0.001),
            WganGpWeight = call.Dbl("wgan_gp_weight", 10),
            R1Weight = call.Dbl("r1_weight", 5),
        };

        // The other loss on the starting weights (values only), with the same codes and crossovers.
        {
            using var g0 = ck.CreateGenerator(useRunningAverage: false);
            using var d0 = ck.CreateDiscriminator();
            Tensor fake1;
            using (no_grad()) fake1 = StyleGan1Trainer.Generate(g0, codes1, step, alpha, noise1);
            var v = DStep(other, d0, real, fake1, fx, step, alpha, options);
            fx.Check($"out.{other}.real_predict", v.RealPredict.reshape(1));
            fx.Check($"out.{other}.fake_predict", v.FakePredict.reshape(1));
            fx.Check($"out.{other}.grad_penalty", v.GradPenalty.reshape(1));
            var gl = StyleGan1Losses.Generator(d0.Score(StyleGan1Trainer.Generate(g0, codes2, step, alpha, noise2), step, alpha), other);
            fx.Check($"out.{other}.g_loss", gl.detach().reshape(1));
        }

        using var g = ck.CreateGenerator(useRunningAverage: false);
        using var gRunning = ck.CreateGenerator(useRunningAverage: true);
        using var d = ck.CreateDiscriminator();
        using var trainer = new StyleGan1Trainer(g, gRunning, d, options);
        trainer.DOptimizer.LoadStateDict(root["d_optimizer"], "d_optimizer");
        trainer.GOptimizer.LoadStateDict(root["g_optimizer"], "g_optimizer");

        var ds = trainer.DiscriminatorStep(real, codes1, step, alpha, noise1, loss == "wgan-gp" ? fx.In("in.eps") : null);
        fx.Check("aux.fake_image", ds.FakeImage, "intermediate");
        fx.Check("out.real_predict", ds.Values.RealPredict.reshape(1));
        fx.Check("out.fake_predict", ds.Values.FakePredict.reshape(1));
        fx.Check("out.grad_penalty", ds.Values.GradPenalty.reshape(1));
        fx.Check("out.disc_loss_val", ds.Values.DiscLoss.reshape(1));
        // Adam leaves .grad as it was, so the accumulated gradients can be read after the step.
        CheckGrads(fx, d, "out.d_grad.");
        CheckValues(fx, d, "out.discriminator.");

        var gs = trainer.GeneratorStep(codes2, step, alpha, noise2);
        fx.Check("out.g_loss", gs.Loss.reshape(1));
        CheckGrads(fx, g, "out.g_grad.");
        CheckValues(fx, g, "out.generator.");
        CheckValues(fx, gRunning, "out.g_running.");
    }

    private static DiscriminatorStepValues DStep(string loss, Discriminator d, Tensor real, Tensor fake, FixtureCase fx, int step, double alpha,
        StyleGan1TrainOptions o) => loss switch
    {
        "wgan-gp" => StyleGan1Losses.WganGpDiscriminator(d, real, fake, fx.In("in.eps"), step, alpha, o.WganDrift, o.WganGpWeight),
        "r1" => StyleGan1Losses.R1Discriminator(d, real, fake, step, alpha, o.R1Weight),
        _ => throw new InvalidDataException($"unknown loss '{loss}'"),
    };

    private static void CheckGrads(FixtureCase fx, nn.Module m, string prefix)
    {
        var expected = fx.Io.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToHashSet();
        foreach (var e in StateDictOrder.Entries(m).Where(e => !e.IsBuffer))
        {
            var grad = e.Tensor.grad;
            var name = prefix + e.Name;
            if (grad is null != !expected.Contains(name))
                fx.Failures.Add($"{e.Name}: gradient {(grad is null ? "missing" : "present")}, the reference {(expected.Contains(name) ? "has" : "has none")}");
            else if (grad is not null) fx.Check(name, grad);
        }
    }

    private static void CheckValues(FixtureCase fx, nn.Module m, string prefix)
    {
        foreach (var e in StateDictOrder.Entries(m).Where(e => !e.IsBuffer))
            if (fx.Io.ContainsKey(prefix + e.Name)) fx.Check(prefix + e.Name, e.Tensor);
            else fx.Failures.Add($"{prefix}{e.Name}: not recorded by the fixture");
    }
}
