using Pipeline.Engine.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.Council;

/// <summary>One council member's three networks.</summary>
public sealed record CouncilMember(CouncilGenerator Gen, MsImageDis Dis, MsImageDisCouncil DisCouncil);

/// <summary>Picks which other member a council discriminator compares against (Python's random.choice).</summary>
public interface ICouncilChooser
{
    /// <summary>One element of <paramref name="pool"/> for council discriminator <paramref name="member"/>, comparison <paramref name="k"/>.</summary>
    int Choose(IReadOnlyList<int> pool, int member, int k);
}

/// <summary>Uniform choice from a seeded generator.</summary>
public sealed class RandomCouncilChooser(int seed) : ICouncilChooser
{
    private readonly Random _random = new(seed);

    public int Choose(IReadOnlyList<int> pool, int member, int k) => pool[_random.Next(pool.Count)];
}

/// <summary>Results of the D step; tensors are detached, (C, …) over members.</summary>
public sealed record DisStepResult(Tensor XBa, Tensor FakeTerms, Tensor RealTerms, Tensor Loss);

/// <summary>
/// Results of the council-D step; <see cref="Choices"/>[i][k] = member compared by \hat D_i. <see cref="XBa"/> /
/// <see cref="XBaLess"/> are the (C, B, 3, H, W) translations the council discriminators see, with z and with
/// z · discriminetro_less_style_by (the reference's x_ba_s / x_ba_s_less; XBaLess is XBa when that factor is 0), so a
/// run can be compared with the reference image by image.
/// </summary>
public sealed record DisCouncilStepResult(Tensor XBa, Tensor XBaLess, Tensor FakeTerms, Tensor RealTerms, Tensor LossSum, Tensor Total, int[][] Choices, bool Active);

/// <summary>Results of the G step.</summary>
public sealed record GenStepResult(Tensor XBa, Tensor AdvTerms, Tensor CouncilTerms, Tensor Adv, Tensor CouncilRaw, double[] WMatch, Tensor CouncilWeighted, Tensor Total, bool CouncilActive);

/// <summary>
/// One training iteration of a b2a council as the reference's train.py runs it: D step, council-D step, G step
/// (each member updated by its own losses, G judged by the already-updated discriminators), then one StepLR step.
/// Noise is passed in so a run can replay recorded draws; <see cref="SampleStyle"/> draws fresh ones.
/// </summary>
public sealed class CouncilTrainer : IDisposable
{
    private readonly CouncilMember[] _members;
    private readonly CouncilConfig _config;
    private readonly LossMatching[] _matching;
    // ReferenceAdam (torch.optim.Adam's math) so the state can be saved in PyTorch's state_dict layout (optimizer_<i>.pt).
    private readonly ReferenceAdam[] _genOpt, _disOpt, _councilOpt;

    public IReadOnlyList<CouncilMember> Members => _members;

    /// <summary>Completed iterations (the reference's <c>iterations</c>; council terms start at council_start_at_iter).</summary>
    public int Iteration { get; set; }

    public CouncilTrainer(CouncilConfig config, IReadOnlyList<CouncilMember> members)
    {
        _config = config;
        var t = config.Train;
        if (t.InactiveWeights is { Count: > 0 } w)
            throw new CouncilConfigException($"loss terms not implemented by the engine are switched on: {string.Join(", ", w.Select(kv => $"{kv.Key}={kv.Value}"))}");
        if (config.Council.FlipOnOff)
            throw new CouncilConfigException("council.flipOnOff: True (on/off cycling of the council loss) is not implemented");
        if (!config.DoB2A || config.DoA2B)
            throw new CouncilConfigException("the trainer implements the b2a-only council (do_a2b: False, do_b2a: True)");
        if (members.Count != config.Council.CouncilSize)
            throw new ArgumentException($"{members.Count} members given, council_size is {config.Council.CouncilSize}");
        _members = [.. members];
        _matching = _members.Select(_ => new LossMatching(t.LossMatchingHistSize)).ToArray();
        // initial_lr: what the reference's StepLR adds to every param group (and needs again on resume).
        ReferenceAdam Adam(nn.Module m) => new(m.parameters(), t.Lr, t.Beta1, t.Beta2, 1e-8, t.WeightDecay) { InitialLearningRate = t.Lr };
        _genOpt = _members.Select(m => Adam(m.Gen)).ToArray();
        _disOpt = _members.Select(m => Adam(m.Dis)).ToArray();
        _councilOpt = _members.Select(m => Adam(m.DisCouncil)).ToArray();
    }

    /// <summary>StepLR's <c>last_epoch</c>: scheduler steps taken (one per iteration; set by <see cref="RestoreSchedule"/>).</summary>
    public long SchedulerSteps { get; private set; }

    private IEnumerable<ReferenceAdam> Optimizers(int member) => [_genOpt[member], _disOpt[member], _councilOpt[member]];

    private int C => _members.Length;

    private bool CouncilActive => Iteration >= _config.Council.CouncilStartAtIter && C > 1;

    /// <summary>z ~ N(0, 1) of shape (B, style_dim, 1, 1) from <paramref name="generator"/> (the reference draws on the CPU).</summary>
    public Tensor SampleStyle(long batch, Generator? generator = null) =>
        randn([batch, _config.Gen.StyleDim, 1, 1], generator: generator);

    private Tensor Translate(int i, Tensor xB, Tensor z) => _members[i].Gen.forward(xB, z.to(xB.device));

    /// <summary>D step: every D_i learns x_a = real, G_i(x_b, z) = fake (one z for all members). Not scaled by gan_w.</summary>
    public DisStepResult DisUpdate(Tensor xA, Tensor xB, Tensor z)
    {
        var xBa = new Tensor[C];
        var fake = new Tensor[C];
        var real = new Tensor[C];
        var loss = new Tensor[C];
        for (int i = 0; i < C; i++)
        {
            using var scope = NewDisposeScope();
            using (no_grad()) xBa[i] = Translate(i, xB, z);
            _disOpt[i].ZeroGrad();
            var f = CouncilLosses.LsganTerms(_members[i].Dis.forward(xBa[i]), 0);
            var r = CouncilLosses.LsganTerms(_members[i].Dis.forward(xA), 1);
            var total = f.sum() + r.sum();
            total.backward();
            _disOpt[i].Step();
            fake[i] = f.detach();
            real[i] = r.detach();
            loss[i] = total.detach();
            scope.MoveToOuter(xBa[i], fake[i], real[i], loss[i]);
        }
        return new DisStepResult(stack(xBa), stack(fake), stack(real), stack(loss));
    }

    /// <summary>
    /// Council-D step: \hat D_i learns G_i(x_b, z) = fake and G_j(x_b, 0.7·z) = real for K other members j
    /// (drawn without replacement, pool refilled when empty, loop stops at k == council_size); loss · council_w / K.
    /// With discriminetro_less_style_by 0 the reference compares against G_j(x_b, z) itself (it builds no scaled ones).
    /// </summary>
    public DisCouncilStepResult DisCouncilUpdate(Tensor xB, Tensor z, ICouncilChooser chooser)
    {
        int k = _config.Council.ComparisonsPerStep;
        if (!CouncilActive || _config.Train.CouncilW == 0)
            return new DisCouncilStepResult(zeros(C, 0), zeros(C, 0), zeros(C, 0), zeros(C, k, 0), zeros(C), zeros(C), [], false);
        using var outer = NewDisposeScope();
        var xBa = new Tensor[C];
        var xLess = new Tensor[C];
        double lessBy = _config.Council.LessStyleBy;
        using (no_grad())
            for (int j = 0; j < C; j++)
            {
                xBa[j] = Translate(j, xB, z);
                xLess[j] = lessBy == 0 ? xBa[j] : Translate(j, xB, z * lessBy);
            }
        var fake = new Tensor[C];
        var real = new Tensor[C];
        var sums = new Tensor[C];
        var totals = new Tensor[C];
        var choices = new int[C][];
        for (int i = 0; i < C; i++)
        {
            var dh = _members[i].DisCouncil;
            _councilOpt[i].ZeroGrad();
            var others = Enumerable.Range(0, C).Where(j => j != i).ToList();
            var pool = new List<int>(others);
            var f = CouncilLosses.LsganTerms(dh.forward(xBa[i], xB), 0);
            var realTerms = new List<Tensor>();
            var picked = new List<int>();
            var sum = zeros(1, device: xB.device).squeeze();
            for (int c = 0; c < k && c != C; c++)
            {
                if (pool.Count == 0) pool.AddRange(others);
                int j = chooser.Choose(pool, i, c);
                if (!pool.Remove(j)) throw new InvalidOperationException($"chooser returned member {j}, not in the pool [{string.Join(", ", pool)}]");
                picked.Add(j);
                var r = CouncilLosses.LsganTerms(dh.forward(xLess[j], xB), 1);
                realTerms.Add(r);
                sum = sum + f.sum() + r.sum();
            }
            var total = sum * (_config.Train.CouncilW / k);
            total.backward();
            _councilOpt[i].Step();
            fake[i] = f.detach();
            real[i] = stack(realTerms).detach();
            sums[i] = sum.detach();
            totals[i] = total.detach();
            choices[i] = [.. picked];
        }
        var result = new DisCouncilStepResult(stack(xBa), stack(xLess), stack(fake), stack(real), stack(sums), stack(totals), choices, true);
        outer.MoveToOuter(result.XBa, result.XBaLess, result.FakeTerms, result.RealTerms, result.LossSum, result.Total);
        return result;
    }

    /// <summary>
    /// G step: total_i = gan_w · Σ_s mean((D_i(G_i(x_b, z))_s − 1)²) + council_w · w_i · Σ_s mean((\hat D_i(·, x_b)_s − 1)²),
    /// w_i from loss matching (or 1), council term from council_start_at_iter on.
    /// </summary>
    public GenStepResult GenUpdate(Tensor xB, Tensor z)
    {
        var t = _config.Train;
        bool council = CouncilActive && t.CouncilW != 0;
        var xBa = new Tensor[C];
        var advT = new Tensor[C];
        var cT = new Tensor[C];
        var adv = new Tensor[C];
        var raw = new Tensor[C];
        var weighted = new Tensor[C];
        var totals = new Tensor[C];
        var w = new double[C];
        for (int i = 0; i < C; i++)
        {
            using var scope = NewDisposeScope();
            _genOpt[i].ZeroGrad();
            var y = Translate(i, xB, z);
            var a = CouncilLosses.LsganTerms(_members[i].Dis.forward(y), 1);
            var advSum = a.sum();
            var total = advSum * t.GanW;
            _matching[i].AddAdversarial(advSum.item<float>());
            Tensor c = zeros(0), cSum = zeros(1).squeeze(), cw = zeros(1).squeeze();
            w[i] = 1;
            if (council)
            {
                c = CouncilLosses.LsganTerms(_members[i].DisCouncil.forward(y, xB), 1);
                cSum = c.sum();
                _matching[i].AddCouncil(cSum.item<float>());
                if (t.DoWLossMatching) w[i] = _matching[i].Weight;
                cw = cSum * (t.CouncilW * w[i]);
                total = total + cw;
            }
            total.backward();
            _genOpt[i].Step();
            xBa[i] = y.detach();
            advT[i] = a.detach();
            cT[i] = c.detach();
            adv[i] = advSum.detach();
            raw[i] = cSum.detach();
            weighted[i] = cw.detach();
            totals[i] = total.detach();
            scope.MoveToOuter(xBa[i], advT[i], cT[i], adv[i], raw[i], weighted[i], totals[i]);
        }
        return new GenStepResult(stack(xBa), stack(advT), stack(cT), stack(adv), stack(raw), w, stack(weighted), stack(totals), council);
    }

    /// <summary>One StepLR step on every optimiser: PyTorch's chainable form, lr ·= gamma when last_epoch % step_size == 0.</summary>
    public void UpdateLearningRate()
    {
        SchedulerSteps++;
        if (SchedulerSteps % _config.Train.StepSize != 0) return;
        foreach (var o in _genOpt.Concat(_disOpt).Concat(_councilOpt)) o.LearningRate *= _config.Train.Gamma;
    }

    /// <summary>Current learning rate of member 0's generator optimiser (all optimisers share the schedule).</summary>
    public double LearningRate => _genOpt[0].LearningRate;

    /// <summary>
    /// Puts StepLR at <paramref name="steps"/> scheduler steps. Members in <paramref name="replay"/> get the learning
    /// rate the schedule reaches from the config's lr (their Adam restarted); the others keep the lr their loaded
    /// optimizer state carried, as the reference's load_state_dict + StepLR(last_epoch = iterations) does.
    /// </summary>
    public void RestoreSchedule(long steps, IEnumerable<int> replay)
    {
        var t = _config.Train;
        double lr = t.Lr;
        for (long k = 1; k <= steps / t.StepSize; k++) lr *= t.Gamma;
        foreach (var i in replay)
            foreach (var o in Optimizers(i)) (o.LearningRate, o.InitialLearningRate) = (lr, t.Lr);
        SchedulerSteps = steps;
    }

    /// <summary>
    /// The reference's <c>optimizer_&lt;i&gt;.pt</c>: <c>{'gen', 'dis', 'dis_council'}</c>, each torch.optim.Adam's
    /// state_dict (integer-keyed state with step / exp_avg / exp_avg_sq, one param group with lr, betas, eps,
    /// weight_decay, amsgrad, initial_lr, params).
    /// </summary>
    public OrderedDictionary<string, object?> OptimizerStateDict(int member) => new()
    {
        ["gen"] = _genOpt[member].StateDict(),
        ["dis"] = _disOpt[member].StateDict(),
        ["dis_council"] = _councilOpt[member].StateDict(),
    };

    /// <summary>
    /// Restores one member's optimisers (learning rates included) from an <see cref="OptimizerStateDict"/> tree
    /// as TorchFile.Load returns it. A missing <c>dis_council</c> entry (a run without a council D) leaves that Adam fresh.
    /// </summary>
    public void LoadOptimizerStateDict(int member, object? tree, string what)
    {
        if (tree is not IDictionary<string, object?> root)
            throw new InvalidDataException($"{what}: not a dict of optimizer states");
        foreach (var (key, opt) in new[] { ("gen", _genOpt[member]), ("dis", _disOpt[member]), ("dis_council", _councilOpt[member]) })
        {
            if (root.TryGetValue(key, out var sd)) opt.LoadStateDict(sd, $"{what} ['{key}']", restoreLearningRate: true);
            else if (key != "dis_council") throw new InvalidDataException($"{what}: no '{key}' entry (keys: {string.Join(", ", root.Keys)})");
        }
    }

    /// <summary>Loss-matching histories of a member (adversarial, council), oldest first.</summary>
    public (double[] Adversarial, double[] Council) LossMatchingHistory(int member) => _matching[member].History;

    public void RestoreLossMatching(int member, IReadOnlyList<double> adversarial, IReadOnlyList<double> council) =>
        _matching[member].Restore(adversarial, council);

    /// <summary>A full iteration: D, council D, G, it += 1, StepLR.</summary>
    public (DisStepResult Dis, DisCouncilStepResult Council, GenStepResult Gen) Step(Tensor xA, Tensor xB, Tensor zDis, Tensor zCouncil, Tensor zGen, ICouncilChooser chooser)
    {
        var d = DisUpdate(xA, xB, zDis);
        var c = DisCouncilUpdate(xB, zCouncil, chooser);
        var g = GenUpdate(xB, zGen);
        Iteration++;
        UpdateLearningRate();
        return (d, c, g);
    }

    public void Dispose()
    {
        foreach (var o in _genOpt.Concat(_disOpt).Concat(_councilOpt)) o.Dispose();
    }
}
