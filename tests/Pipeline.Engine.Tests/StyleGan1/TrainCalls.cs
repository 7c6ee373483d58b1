using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// The "train_iteration" fixture op: one train.py iteration from a checkpoint with Adam state — D step (losses,
/// accumulated gradients, Adam), G step (loss, gradients, two-group Adam), EMA into g_running, and the other loss's
/// values on the starting weights.
/// </summary>
internal static class TrainCalls
{
    public static void Run(FixtureCase fx, JsonElement call)
    {
        if (call.TryGetProperty("mixing", out var mixing) && mixing.GetBoolean())
        {
            fx.Failures.Add("train_iteration with mixing: the crossover draws are not recorded, cannot replay");
            return;
        }
        int step = call.Int("step");
        double alpha = call.Dbl("alpha", -1);
        var loss = call.Str("loss");
        string other = loss == "wgan-gp" ? "r1" : "wgan-gp";
        var ck = fx.Checkpoint();
        var root = (OrderedDictionary<string, object?>)fx.Tree()!;
        var real = fx.In("in.real");
        Tensor[] Noise(string set) => Enumerable.Range(0, step + 1).Select(i => fx.In($"in.{set}.{i}")).ToArray();
        var opt1 = new StyleGan1ForwardOptions { Step = step, Alpha = alpha, Noise = Noise("noise1") };
        var opt2 = new StyleGan1ForwardOptions { Step = step, Alpha = alpha, Noise = Noise("noise2") };
        double drift = call.Dbl("wgan_drift", 0.001), gpWeight = call.Dbl("wgan_gp_weight", 10), r1Weight = call.Dbl("r1_weight", 5);

        // The other loss on the starting weights (values only).
        {
            using var g0 = ck.CreateGenerator(useRunningAverage: false);
            using var d0 = ck.CreateDiscriminator();
            Tensor fake1;
            using (no_grad()) fake1 = g0.Forward(fx.In("in.z1"), opt1);
            var v = DStep(other, d0, real, fake1, fx, step, alpha, drift, gpWeight, r1Weight);
            fx.Check($"out.{other}.real_predict", v.RealPredict.reshape(1));
            fx.Check($"out.{other}.fake_predict", v.FakePredict.reshape(1));
            fx.Check($"out.{other}.grad_penalty", v.GradPenalty.reshape(1));
            var gl = StyleGan1Losses.Generator(d0.Score(g0.Forward(fx.In("in.z2"), opt2), step, alpha), other);
            fx.Check($"out.{other}.g_loss", gl.detach().reshape(1));
        }

        using var g = ck.CreateGenerator(useRunningAverage: false);
        using var gRunning = ck.CreateGenerator(useRunningAverage: true);
        using var d = ck.CreateDiscriminator();
        Tensor fake;
        using (no_grad()) fake = g.Forward(fx.In("in.z1"), opt1);
        fx.Check("aux.fake_image", fake, "intermediate");
        var values = DStep(loss, d, real, fake, fx, step, alpha, drift, gpWeight, r1Weight);
        fx.Check("out.real_predict", values.RealPredict.reshape(1));
        fx.Check("out.fake_predict", values.FakePredict.reshape(1));
        fx.Check("out.grad_penalty", values.GradPenalty.reshape(1));
        fx.Check("out.disc_loss_val", values.DiscLoss.reshape(1));
        CheckGrads(fx, d, "out.d_grad.");
        var dAdam = new ReferenceAdam();
        dAdam.AddGroup(Params(d), call.Dbl("lr", 0.001));
        dAdam.LoadState(root["d_optimizer"]);
        dAdam.Step();
        CheckValues(fx, d, "out.discriminator.");

        foreach (var p in d.parameters()) p.requires_grad_(false);
        var gLoss = StyleGan1Losses.Generator(d.Score(g.Forward(fx.In("in.z2"), opt2), step, alpha), loss);
        fx.Check("out.g_loss", gLoss.detach().reshape(1));
        gLoss.backward();
        CheckGrads(fx, g, "out.g_grad.");
        var gAdam = new ReferenceAdam();
        var gp = Params(g).ToArray();
        // train.py: group 0 = the synthesis network, group 1 = the mapping network at lr x 0.01.
        gAdam.AddGroup(gp.Where((_, i) => StateDictOrder.Entries(g).Where(e => !e.IsBuffer).ElementAt(i).Name.StartsWith("generator.", StringComparison.Ordinal)), call.Dbl("lr", 0.001));
        gAdam.AddGroup(gp.Where((_, i) => StateDictOrder.Entries(g).Where(e => !e.IsBuffer).ElementAt(i).Name.StartsWith("style.", StringComparison.Ordinal)), call.Dbl("mapping_lr", 1e-5));
        gAdam.LoadState(root["g_optimizer"]);
        gAdam.Step();
        CheckValues(fx, g, "out.generator.");
        StyleGan1Losses.Accumulate(gRunning, g, call.Dbl("ema_decay", 0.999));
        CheckValues(fx, gRunning, "out.g_running.");
    }

    private static DiscriminatorStepValues DStep(string loss, Discriminator d, Tensor real, Tensor fake, FixtureCase fx, int step, double alpha,
        double drift, double gpWeight, double r1Weight) => loss switch
    {
        "wgan-gp" => StyleGan1Losses.WganGpDiscriminator(d, real, fake, fx.In("in.eps"), step, alpha, drift, gpWeight),
        "r1" => StyleGan1Losses.R1Discriminator(d, real, fake, step, alpha, r1Weight),
        _ => throw new InvalidDataException($"unknown loss '{loss}'"),
    };

    private static IEnumerable<Parameter> Params(nn.Module m) =>
        StateDictOrder.Entries(m).Where(e => !e.IsBuffer).Select(e => (Parameter)e.Tensor);

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
