using System.Globalization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.Training;

/// <summary>
/// torch.optim.Adam (single-tensor path, amsgrad off) with its state kept in PyTorch's layout, so a checkpoint's
/// <c>g_optim</c>/<c>d_optim</c> entries are what <c>optimizer.state_dict()</c> writes and what
/// <c>optimizer.load_state_dict</c> reads. Parameters without a gradient are skipped, as PyTorch does.
/// </summary>
public sealed class ReferenceAdam : IDisposable
{
    private readonly Parameter[] _params;
    private readonly Tensor?[] _expAvg, _expAvgSq;
    private readonly long[] _step;

    public ReferenceAdam(IEnumerable<Parameter> parameters, double lr, double beta1, double beta2, double eps = 1e-8, double weightDecay = 0)
    {
        _params = [.. parameters];
        _expAvg = new Tensor?[_params.Length];
        _expAvgSq = new Tensor?[_params.Length];
        _step = new long[_params.Length];
        LearningRate = lr;
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
    }

    public double LearningRate { get; set; }

    /// <summary>
    /// The <c>initial_lr</c> an attached torch.optim.lr_scheduler puts into the param group (and a resumed scheduler
    /// requires); written to <see cref="StateDict"/> when set.
    /// </summary>
    public double? InitialLearningRate { get; set; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }

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
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            var grad = p.grad;
            if (grad is null || grad.IsInvalid) continue;
            if (WeightDecay != 0) grad = grad.add(p, alpha: WeightDecay);
            if (_expAvg[i] is null)
            {
                _expAvg[i] = zeros_like(p).DetachFromDisposeScope();
                _expAvgSq[i] = zeros_like(p).DetachFromDisposeScope();
            }
            _step[i]++;
            _expAvg[i]!.lerp_(grad, 1 - Beta1);
            _expAvgSq[i]!.mul_(Beta2).addcmul_(grad, grad, 1 - Beta2);
            double bc1 = 1 - Math.Pow(Beta1, _step[i]);
            double bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, _step[i]));
            var denom = _expAvgSq[i]!.sqrt().div_(bc2Sqrt).add_(Eps);
            p.addcdiv_(_expAvg[i]!, denom, value: -LearningRate / bc1);
        }
    }

    /// <summary>optimizer.state_dict(): {"state": {index: {"step", "exp_avg", "exp_avg_sq"}}, "param_groups": [...]}.</summary>
    public OrderedDictionary<string, object?> StateDict()
    {
        var state = new Dictionary<long, object?>();
        for (int i = 0; i < _params.Length; i++)
        {
            if (_expAvg[i] is null) continue;
            state[i] = new OrderedDictionary<string, object?>
            {
                ["step"] = tensor((float)_step[i]),
                ["exp_avg"] = _expAvg[i]!.cpu(),
                ["exp_avg_sq"] = _expAvgSq[i]!.cpu(),
            };
        }
        var group = new Dictionary<string, object?>
        {
            ["lr"] = LearningRate,
            ["betas"] = new object?[] { Beta1, Beta2 },
            ["eps"] = Eps,
            ["weight_decay"] = WeightDecay,
            ["amsgrad"] = false,
            ["maximize"] = false,
            ["foreach"] = null,
            ["capturable"] = false,
            ["differentiable"] = false,
            ["fused"] = null,
        };
        if (InitialLearningRate is { } initial) group["initial_lr"] = initial;
        group["params"] = Enumerable.Range(0, _params.Length).Select(i => (object?)(long)i).ToList();
        return new OrderedDictionary<string, object?> { ["state"] = state, ["param_groups"] = new List<object?> { group } };
    }

    /// <summary>
    /// Restores a state written by <see cref="StateDict"/> or by PyTorch (as read by TorchFile.Load: keys become strings).
    /// With <paramref name="restoreLearningRate"/> the group's <c>lr</c> (and <c>initial_lr</c>) replace the current
    /// ones, as <c>optimizer.load_state_dict</c> does; off, the caller's learning rate stays (StyleGAN2's constant lr).
    /// </summary>
    public void LoadStateDict(object? tree, string what = "optimizer", bool restoreLearningRate = false)
    {
        if (tree is not IDictionary<string, object?> root || !root.TryGetValue("state", out var s) || s is not IDictionary<string, object?> state)
            throw new InvalidDataException($"{what}: not an optimizer state_dict (no 'state' dict)");
        if (root.TryGetValue("param_groups", out var pg) && pg is List<object?> { Count: 1 } groups
            && groups[0] is IDictionary<string, object?> g && g.TryGetValue("params", out var ps) && ps is List<object?> list
            && list.Count != _params.Length)
            throw new InvalidDataException($"{what}: the saved optimizer has {list.Count} parameters, the model {_params.Length}");
        if (restoreLearningRate)
        {
            if (pg is not List<object?> { Count: 1 } gs || gs[0] is not IDictionary<string, object?> group || !group.TryGetValue("lr", out var lr))
                throw new InvalidDataException($"{what}: no single param group with an 'lr'");
            LearningRate = Number(lr, $"{what}: param_groups[0].lr");
            if (group.TryGetValue("initial_lr", out var initial)) InitialLearningRate = Number(initial, $"{what}: param_groups[0].initial_lr");
        }
        foreach (var (key, value) in state)
        {
            int i = int.Parse(key, CultureInfo.InvariantCulture);
            if (i < 0 || i >= _params.Length || value is not IDictionary<string, object?> entry)
                throw new InvalidDataException($"{what}: state entry '{key}' does not match the model's {_params.Length} parameters");
            var avg = (Tensor)entry["exp_avg"]!;
            if (!avg.shape.SequenceEqual(_params[i].shape))
                throw new InvalidDataException($"{what}: state {key} has shape [{string.Join(", ", avg.shape)}], parameter has [{string.Join(", ", _params[i].shape)}]");
            _expAvg[i]?.Dispose();
            _expAvgSq[i]?.Dispose();
            _expAvg[i] = avg.to(float32).to(_params[i].device).DetachFromDisposeScope();
            _expAvgSq[i] = ((Tensor)entry["exp_avg_sq"]!).to(float32).to(_params[i].device).DetachFromDisposeScope();
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
