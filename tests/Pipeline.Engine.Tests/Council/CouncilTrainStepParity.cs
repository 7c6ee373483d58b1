using System.Text.RegularExpressions;
using Pipeline.Engine.Council;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Council;

/// <summary>
/// One training iteration of the whole council against the reference trainer: recorded noise and council
/// choices replayed, every loss term per member and scale, loss-matching weights, gradients of selected
/// parameters after their stage, Adam-updated values and the learning rate after StepLR.
/// </summary>
internal static partial class CouncilTrainStepParity
{
    [GeneratedRegex(@"^(grad|post)\.(gen|dis|dis_council)\.m(\d+)\.(.+)$")]
    private static partial Regex ParamEntry();

    [GeneratedRegex(@"_(\d{8})\.pt$")]
    private static partial Regex StepOf();

    /// <summary>Replays recorded random.choice results, checking each was a legal draw from the pool.</summary>
    private sealed class Replay(long[,] choices) : ICouncilChooser
    {
        public int Choose(IReadOnlyList<int> pool, int member, int k)
        {
            int j = (int)choices[member, k];
            Assert.True(pool.Contains(j), $"recorded choice {j} of council D {member} (comparison {k}) is not in the pool [{string.Join(", ", pool)}]");
            return j;
        }
    }

    /// <summary>The case's council (weights before the iteration, train mode) and the iteration the reference resumed at.</summary>
    public static (CouncilMember[] Members, int Iteration) LoadMembers(CouncilFixture fx)
    {
        var cfg = fx.Config;
        var gens = fx.Files("*_gen_*.pt");
        var step = StepOf().Match(Path.GetFileName(gens[0])).Groups[1].Value;
        var files = CouncilCheckpoint.ResolveGeneratorFiles(Path.Combine(fx.Dir, step), cfg.Council.CouncilSize, cfg.Direction);
        var members = files.Select(f => new CouncilMember(
            CouncilCheckpoint.LoadGenerator(f, cfg.Gen, cfg.Direction),
            (MsImageDis)CouncilCheckpoint.LoadDiscriminator(CouncilCheckpoint.CompanionFile(f, "dis"), false, cfg.Dis, cfg.Direction),
            (MsImageDisCouncil)CouncilCheckpoint.LoadDiscriminator(CouncilCheckpoint.CompanionFile(f, "dis_council"), true, cfg.Dis, cfg.Direction))).ToArray();
        foreach (var m in members)
        {
            m.Gen.train();
            m.Dis.train();
            m.DisCouncil.train();
        }
        // The reference resumes with iteration = the 8-digit step of the file names.
        return (members, int.Parse(step, System.Globalization.CultureInfo.InvariantCulture));
    }

    public static void Run(CouncilFixture fx)
    {
        var cfg = fx.Config;
        var (members, iteration) = LoadMembers(fx);
        using var trainer = new CouncilTrainer(cfg, members) { Iteration = iteration };
        var initial = fx.Manifest.Keys.Select(n => ParamEntry().Match(n)).Where(m => m.Success && m.Groups[1].Value == "post")
            .ToDictionary(m => m.Value, m => Param(members, m).detach().clone());

        Tensor xA = fx.Get("x_a"), xB = fx.Get("x_b");

        var d = trainer.DisUpdate(xA, xB, fx.Get("noise.dis_update.s_a"));
        fx.AssertClose("dis_update.x_ba", d.XBa);
        fx.AssertClose("dis_update.fake_terms", d.FakeTerms);
        fx.AssertClose("dis_update.real_terms", d.RealTerms);
        fx.AssertClose("dis_update.loss", d.Loss);
        fx.AssertClose("dis_update.total", d.Loss);
        AssertGrads(fx, members, "dis");

        // Whether the council terms ran (iteration vs council_start_at_iter, council_w, council size) is the
        // trainer's call; the fixture records council-D tensors only when they did.
        bool expectCouncil = fx.Has("dis_council_update.loss_sum");
        var recorded = expectCouncil ? fx.Get("dis_council_update.choices") : zeros(0, 0, ScalarType.Int64);
        var choices = new long[recorded.shape[0], recorded.shape[1]];
        for (int i = 0; i < choices.GetLength(0); i++)
            for (int k = 0; k < choices.GetLength(1); k++) choices[i, k] = recorded[i, k].item<long>();
        var c = trainer.DisCouncilUpdate(xB, fx.Get("noise.dis_council_update.s_a"), new Replay(choices));
        Assert.Equal(expectCouncil, c.Active);
        if (c.Active)
        {
            fx.AssertClose("dis_council_update.fake_terms", c.FakeTerms);
            fx.AssertClose("dis_council_update.real_terms", c.RealTerms);
            fx.AssertClose("dis_council_update.loss_sum", c.LossSum);
            fx.AssertClose("dis_council_update.total", c.Total);
            fx.AssertClose("dis_council_update.choices", tensor(c.Choices.SelectMany(r => r.Select(v => (long)v)).ToArray(), [c.Choices.Length, c.Choices[0].Length]));
            // Optional (the public set dropped them for size): the translations the council discriminators judged.
            foreach (var (name, images) in new[] { ("dis_council_update.x_ba", c.XBa), ("dis_council_update.x_ba_less", c.XBaLess) })
                if (fx.Has(name)) fx.AssertClose(name, images);
            AssertGrads(fx, members, "dis_council");
        }

        var g = trainer.GenUpdate(xB, fx.Get("noise.gen_update.s_a"));
        fx.AssertClose("gen_update.x_ba", g.XBa);
        fx.AssertClose("gen_update.adv_terms", g.AdvTerms);
        fx.AssertClose("gen_update.adv", g.Adv);
        if (g.CouncilActive || fx.Has("gen_update.council_terms"))
        {
            fx.AssertClose("gen_update.council_terms", g.CouncilTerms);
            fx.AssertClose("gen_update.council_raw", g.CouncilRaw);
            fx.AssertClose("gen_update.w_match", tensor(g.WMatch));
            fx.AssertClose("gen_update.council_weighted", g.CouncilWeighted);
        }
        fx.AssertClose("gen_update.total", g.Total);
        AssertGrads(fx, members, "gen");

        trainer.UpdateLearningRate();
        if (fx.Has("lr_after_update_learning_rate"))
            fx.AssertClose("lr_after_update_learning_rate", tensor(new[] { trainer.LearningRate }), atolOverride: 1e-15);

        foreach (var (name, before) in initial) AssertPost(fx, members, name, before, cfg.Train.WeightDecay);
    }

    private static Tensor Param(CouncilMember[] members, Match m)
    {
        int i = int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(i, 0, members.Length - 1);
        nn.Module net = m.Groups[2].Value switch
        {
            "gen" => members[i].Gen,
            "dis" => members[i].Dis,
            _ => members[i].DisCouncil,
        };
        var p = net.named_parameters().FirstOrDefault(kv => kv.name == m.Groups[4].Value).parameter;
        Assert.True(p is not null, $"{m.Value}: no such parameter");
        return p!;
    }

    /// <summary>Gradients of one stage, read right after it (a later G backward adds into D's grads).</summary>
    private static void AssertGrads(CouncilFixture fx, CouncilMember[] members, string net)
    {
        foreach (var name in fx.Manifest.Keys)
        {
            var m = ParamEntry().Match(name);
            if (!m.Success || m.Groups[1].Value != "grad" || m.Groups[2].Value != net) continue;
            var grad = Param(members, m).grad;
            Assert.True(grad is not null, $"{name}: the engine produced no gradient");
            fx.AssertClose(name, grad!);
        }
    }

    /// <summary>
    /// Adam's first step moves a parameter by lr·sign(g) wherever |g| is not tiny, so there the fixture's note asks for
    /// 1e-6 (where |grad + wd·p| > 1e-5, and above the gradient's tolerance); elsewhere the manifest's looser bound.
    /// No gradient: the parameter must not move at all.
    /// </summary>
    private static void AssertPost(CouncilFixture fx, CouncilMember[] members, string name, Tensor before, double weightDecay)
    {
        var m = ParamEntry().Match(name);
        var p = Param(members, m);
        fx.AssertClose(name, p);
        var gradName = $"grad.{m.Groups[2].Value}.m{m.Groups[3].Value}.{m.Groups[4].Value}";
        if (fx.Has(gradName))
        {
            // Strict only where the sign of the reference's total gradient survives the gradient's own tolerance
            // (biases feeding an instance norm have pure rounding-noise gradients, so their step sign is arbitrary).
            double threshold = Math.Max(1e-5, fx.Manifest[gradName].Atol ?? 0);
            using var total = fx.Get(gradName) + before * weightDecay;
            using var strict = total.abs() > threshold;
            using var diff = (p.detach() - fx.Get(name)).abs();
            double worst = diff.masked_select(strict).numel() == 0 ? 0 : diff.masked_select(strict).max().item<float>();
            Assert.True(worst <= 1e-6, $"{name}: max |diff| {worst:G4} > 1e-6 where the gradient is not tiny");
        }
        else if (p.grad is null)
        {
            Assert.True(p.detach().eq(before).all().item<bool>(), $"{name}: a parameter without gradient changed (weight decay must skip it)");
        }
    }
}
