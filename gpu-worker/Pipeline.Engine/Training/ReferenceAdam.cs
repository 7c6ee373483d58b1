using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.Training;

/// <summary>
/// torch.optim.Adam (single-tensor path, amsgrad off) with parameter groups and its state kept in PyTorch's layout, so
/// a checkpoint's optimiser entries (StyleGAN2's <c>g_optim</c>/<c>d_optim</c>, StyleGAN v1's two-group
/// <c>g_optimizer</c>) are what <c>optimizer.state_dict()</c> writes and what <c>optimizer.load_state_dict</c> reads:
/// state keyed by the parameter's index across all groups. Parameters without a gradient are skipped, as PyTorch does.
/// </summary>
public sealed class ReferenceAdam : IDisposable
{
    /// <summary>One param group: its hyperparameters and the index range of its parameters in <see cref="_params"/>.</summary>
    private sealed class Group
    {
        public required int Start, Count;
        public double Lr, Beta1, Beta2, Eps, WeightDecay;
        public double? InitialLr;
    }

    private readonly List<Parameter> _params = [];
    private readonly List<Tensor?> _expAvg = [], _expAvgSq = [];
    private readonly List<long> _step = [];
    private readonly List<Group> _groups = [];
    private readonly double _beta1, _beta2, _eps, _weightDecay;

    /// <summary>The first group, and the defaults of groups added later (torch.optim.Adam's constructor arguments).</summary>
    public ReferenceAdam(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps = 1e-8, double weightDecay = 0)
    {
        (_beta1, _beta2, _eps, _weightDecay) = (beta1, beta2, eps, weightDecay);
        AddGroup(parameters, lr);
    }

    /// <summary>optimizer.add_param_group: another group with its own learning rate and the constructor's other defaults.</summary>
    public void AddGroup(IEnumerable<Parameter> parameters, double lr)
    {
        int start = _params.Count;
        _params.AddRange(parameters);
        int count = _params.Count - start;
        for (int i = 0; i < count; i++) { _expAvg.Add(null); _expAvgSq.Add(null); _step.Add(0); }
        _groups.Add(new Group { Start = start, Count = count, Lr = lr, Beta1 = _beta1, Beta2 = _beta2, Eps = _eps, WeightDecay = _weightDecay });
    }

    /// <summary>The learning rate of every group (StyleGAN2 has one); reading gives the first group's.</summary>
    public double LearningRate
    {
        get => _groups[0].Lr;
        set { foreach (var g in _groups) g.Lr = value; }
    }

    /// <summary>One group's learning rate (StyleGAN v1 sets synthesis and mapping rates per resolution).</summary>
    public void SetLearningRate(int group, double lr) => _groups[group].Lr = lr;

    /// <summary>
    /// The <c>initial_lr</c> an attached torch.optim.lr_scheduler puts into the param groups (and a resumed scheduler
    /// requires); written to <see cref="StateDict"/> when set.
    /// </summary>
    public double? InitialLearningRate
    {
        get => _groups[0].InitialLr;
        set { foreach (var g in _groups) g.InitialLr = value; }
    }

    public double Beta1 => _groups[0].Beta1;
    public double Beta2 => _groups[0].Beta2;
    public double Eps => _groups[0].Eps;
    public double WeightDecay => _groups[0].WeightDecay;

    /// <summary>Steps taken by the first parameter that has state (0 before the first step).</summary>
    public long Steps => _step.FirstOrDefault(s => s > 0);

    /// <summary>set_to_none: the next backward writes fresh gradients.</summary>
    public void ZeroGrad()
    {
        foreach (var p in _params)
        {
            var g = p.grad;
            if (g is not null) { p.grad = null; g.Dispose(); }
        }
    }

    public void Step()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var group in _groups)
            for (int i = group.Start; i < group.Start + group.Count; i++)
            {
                var p = _params[i];
                var grad = p.grad;
                if (grad is null || grad.IsInvalid) continue;
                if (group.WeightDecay != 0) grad = grad.add(p, alpha: group.WeightDecay);
                if (_expAvg[i] is null)
                {
                    _expAvg[i] = zeros_like(p).DetachFromDisposeScope();
                    _expAvgSq[i] = zeros_like(p).DetachFromDisposeScope();
                }
                _step[i]++;
                _expAvg[i]!.lerp_(grad, 1 - group.Beta1);
                _expAvgSq[i]!.mul_(group.Beta2).addcmul_(grad, grad, 1 - group.Beta2);
                double bc1 = 1 - Math.Pow(group.Beta1, _step[i]);
                double bc2Sqrt = Math.Sqrt(1 - Math.Pow(group.Beta2, _step[i]));
                var denom = _expAvgSq[i]!.sqrt().div_(bc2Sqrt).add_(group.Eps);
                p.addcdiv_(_expAvg[i]!, denom, value: -group.Lr / bc1);
            }
    }

    /// <summary>optimizer.state_dict(): {"state": {index: {"step", "exp_avg", "exp_avg_sq"}}, "param_groups": [...]}.</summary>
    public OrderedDictionary<string, object?> StateDict()
    {
        var state = new Dictionary<long, object?>();
        for (int i = 0; i < _params.Count; i++)
        {
            if (_expAvg[i] is null) continue;
            state[i] = new OrderedDictionary<string, object?>
            {
                ["step"] = tensor((float)_step[i]),
                ["exp_avg"] = _expAvg[i]!.cpu(),
                ["exp_avg_sq"] = _expAvgSq[i]!.cpu(),
            };
        }
        var groups = new List<object?>();
        foreach (var g in _groups)
        {
            var group = new Dictionary<string, object?>
            {
                ["lr"] = g.Lr,
                ["betas"] = new object?[] { g.Beta1, g.Beta2 },
                ["eps"] = g.Eps,
                ["weight_decay"] = g.WeightDecay,
                ["amsgrad"] = false,
                ["maximize"] = false,
                ["foreach"] = null,
                ["capturable"] = false,
                ["differentiable"] = false,
                ["fused"] = null,
            };
            if (g.InitialLr is { } initial) group["initial_lr"] = initial;
            group["params"] = Enumerable.Range(g.Start, g.Count).Select(i => (object?)(long)i).ToList();
            groups.Add(group);
        }
        return new OrderedDictionary<string, object?> { ["state"] = state, ["param_groups"] = groups };
    }

    /// <summary>
    /// Restores a state written by <see cref="StateDict"/> or by PyTorch (as read by TorchFile.Load: keys become strings).
    /// Betas and eps come from the saved groups, as <c>optimizer.load_state_dict</c> takes them. With
    /// <paramref name="restoreLearningRate"/> each group's <c>lr</c> (and <c>initial_lr</c>) replace the current ones
    /// too; off, the caller's learning rates stay (StyleGAN2's constant lr; StyleGAN v1 sets them per resolution).
    /// </summary>
    public void LoadStateDict(object? tree, string what = "optimizer", bool restoreLearningRate = false)
    {
        if (tree is not IDictionary<string, object?> root || !root.TryGetValue("state", out var s) || s is not IDictionary<string, object?> state)
            throw new InvalidDataException($"{what}: not an optimizer state_dict (no 'state' dict)");
        if (root.TryGetValue("param_groups", out var pg) && pg is List<object?> saved)
        {
            if (saved.Count != _groups.Count)
                throw new InvalidDataException($"{what}: the saved optimizer has {saved.Count} param groups, this one {_groups.Count}");
            for (int gi = 0; gi < saved.Count; gi++)
            {
                if (saved[gi] is not IDictionary<string, object?> group) throw new InvalidDataException($"{what}: param_groups[{gi}] is not a dict");
                var ours = _groups[gi];
                if (group.TryGetValue("params", out var ps) && ps is List<object?> list && list.Count != ours.Count)
                    throw new InvalidDataException($"{what}: param group {gi} of the saved optimizer has {list.Count} parameters, the model {ours.Count}");
                if (group.TryGetValue("betas", out var b) && b is object?[] { Length: 2 } betas)
                    (ours.Beta1, ours.Beta2) = (Number(betas[0], $"{what}: param_groups[{gi}].betas"), Number(betas[1], $"{what}: param_groups[{gi}].betas"));
                if (group.TryGetValue("eps", out var e) && e is not null) ours.Eps = Number(e, $"{what}: param_groups[{gi}].eps");
                if (!restoreLearningRate) continue;
                if (!group.TryGetValue("lr", out var lr)) throw new InvalidDataException($"{what}: param_groups[{gi}] has no 'lr'");
                ours.Lr = Number(lr, $"{what}: param_groups[{gi}].lr");
                if (group.TryGetValue("initial_lr", out var initial)) ours.InitialLr = Number(initial, $"{what}: param_groups[{gi}].initial_lr");
            }
        }
        else if (restoreLearningRate) throw new InvalidDataException($"{what}: no param_groups with an 'lr'");
        foreach (var (key, value) in state)
        {
            int i = int.Parse(key, CultureInfo.InvariantCulture);
            if (i < 0 || i >= _params.Count || value is not IDictionary<string, object?> entry)
                throw new InvalidDataException($"{what}: state entry '{key}' does not match the model's {_params.Count} parameters");
            var avg = (Tensor)entry["exp_avg"]!;
            if (!avg.shape.SequenceEqual(_params[i].shape))
                throw new InvalidDataException($"{what}: state {key} has shape [{string.Join(", ", avg.shape)}], parameter has [{string.Join(", ", _params[i].shape)}]");
            _expAvg[i]?.Dispose();
            _expAvgSq[i]?.Dispose();
            // Copies: .to() returns the very tensor when dtype and device already match, and a state_dict still alive
            // elsewhere (another optimiser's StateDict(), a cached tree) must not be updated in place by this one.
            _expAvg[i] = avg.to(_params[i].dtype).to(_params[i].device).clone().DetachFromDisposeScope();
            _expAvgSq[i] = ((Tensor)entry["exp_avg_sq"]!).to(_params[i].dtype).to(_params[i].device).clone().DetachFromDisposeScope();
            _step[i] = entry["step"] switch
            {
                Tensor t => (long)t.to(float64).item<double>(),
                long l => l,
                double d => (long)d,
                var o => throw new InvalidDataException($"{what}: state {key} has an unreadable step ({o?.GetType().Name ?? "None"})"),
            };
        }
    }

    private static double Number(object? value, string what) => value switch
    {
        double d => d,
        long l => l,
        Tensor t => t.to(float64).item<double>(),
        _ => throw new InvalidDataException($"{what} is not a number ({value?.GetType().Name ?? "None"})"),
    };

    public void Dispose()
    {
        foreach (var t in _expAvg.Concat(_expAvgSq)) t?.Dispose();
    }
}
