using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>
/// PyTorch's Adam (no weight decay, no amsgrad) over named parameter groups, reading and writing the reference's
/// optimiser state_dict layout (parameters referred to by their index across groups), so train.py's
/// g_optimizer / d_optimizer state continues exactly. Parameters without a gradient are skipped, as in PyTorch.
/// </summary>
public sealed class ReferenceAdam
{
    private sealed class Slot
    {
        public required Parameter Param { get; init; }
        public double Step;
        public Tensor? ExpAvg;
        public Tensor? ExpAvgSq;
    }

    private readonly List<(double Lr, double Beta1, double Beta2, double Eps, List<Slot> Slots)> groups = [];

    /// <summary>Adds a group (train.py: synthesis parameters, then the mapping parameters with lr x 0.01).</summary>
    public void AddGroup(IEnumerable<Parameter> parameters, double lr, double beta1 = 0, double beta2 = 0.99, double eps = 1e-8) =>
        groups.Add((lr, beta1, beta2, eps, parameters.Select(p => new Slot { Param = p }).ToList()));

    /// <summary>Changes a group's learning rate (train.py resets it per resolution).</summary>
    public void SetLearningRate(int group, double lr) => groups[group] = groups[group] with { Lr = lr };

    /// <summary>
    /// Loads `state` (index -> {step, exp_avg, exp_avg_sq}) from an unpickled optimiser state_dict. Betas and eps come
    /// from its param_groups; learning rates stay as configured (train.py overrides them anyway).
    /// </summary>
    public void LoadState(object? optimizerStateDict)
    {
        if (optimizerStateDict is not OrderedDictionary<string, object?> sd || sd["state"] is not OrderedDictionary<string, object?> state
            || sd["param_groups"] is not List<object?> pgs || pgs.Count != groups.Count)
            throw new InvalidDataException($"optimizer state_dict does not match {groups.Count} parameter groups");
        var slots = groups.SelectMany(g => g.Slots).ToArray();
        for (int gi = 0; gi < groups.Count; gi++)
        {
            var pg = (OrderedDictionary<string, object?>)pgs[gi]!;
            if (pg["params"] is List<object?> ids && ids.Count != groups[gi].Slots.Count)
                throw new InvalidDataException($"optimizer group {gi} has {ids.Count} parameters, the model {groups[gi].Slots.Count}");
            if (pg.TryGetValue("betas", out var b) && b is object?[] betas)
                groups[gi] = groups[gi] with { Beta1 = Convert.ToDouble(betas[0]), Beta2 = Convert.ToDouble(betas[1]) };
            if (pg.TryGetValue("eps", out var e) && e is double eps) groups[gi] = groups[gi] with { Eps = eps };
        }
        foreach (var (key, value) in state)
        {
            int index = int.Parse(key, System.Globalization.CultureInfo.InvariantCulture);
            var s = (OrderedDictionary<string, object?>)value!;
            var slot = slots[index];
            slot.Step = s["step"] switch { Tensor t => t.to(float64).item<double>(), long l => l, double d => d, var o => throw new InvalidDataException($"unexpected Adam step {o}") };
            slot.ExpAvg = ((Tensor)s["exp_avg"]!).to(slot.Param.dtype, slot.Param.device).clone();
            slot.ExpAvgSq = ((Tensor)s["exp_avg_sq"]!).to(slot.Param.dtype, slot.Param.device).clone();
        }
    }

    /// <summary>One Adam update of every parameter that has a gradient.</summary>
    public void Step()
    {
        using var _ = no_grad();
        foreach (var (lr, b1, b2, eps, slots) in groups)
            foreach (var slot in slots)
            {
                var grad = slot.Param.grad;
                if (grad is null) continue;
                slot.Step += 1;
                slot.ExpAvg ??= zeros_like(slot.Param);
                slot.ExpAvgSq ??= zeros_like(slot.Param);
                slot.ExpAvg.mul_(b1).add_(grad, alpha: 1 - b1);
                slot.ExpAvgSq.mul_(b2).addcmul_(grad, grad, value: 1 - b2);
                double bc1 = 1 - Math.Pow(b1, slot.Step), bc2Sqrt = Math.Sqrt(1 - Math.Pow(b2, slot.Step));
                var denom = (slot.ExpAvgSq.sqrt() / bc2Sqrt).add_(eps);
                slot.Param.addcdiv_(slot.ExpAvg, denom, value: -lr / bc1);
            }
    }
}
