using System.Collections;
using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.Models;

/// <summary>
/// Estimates how many bytes a loaded model holds: its parameters and buffers. The cache's budget is spent in these
/// bytes, so the estimate only has to rank and add up models, not match the allocator to the byte.
/// </summary>
public static class ModelSize
{
    /// <summary>
    /// A module's parameters and buffers; for other objects (StyleGan2Checkpoint, CouncilTranslator, Translator) the
    /// modules and tensors held directly in their fields, one level deep, each counted once.
    /// </summary>
    public static long Estimate(object model)
    {
        var seen = new HashSet<IntPtr>();
        if (model is nn.Module m) return Of(m, seen);
        long total = 0;
        for (var type = model.GetType(); type is not null && type != typeof(object); type = type.BaseType)
            foreach (var f in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
                total += OfValue(f.GetValue(model), seen);
        return total;
    }

    private static long OfValue(object? value, HashSet<IntPtr> seen) => value switch
    {
        nn.Module m => Of(m, seen),
        Tensor t => Of(t, seen),
        // Arrays and lists of members (a council's generators); strings are enumerable but hold no tensors.
        IEnumerable items and not string => items.Cast<object?>().Sum(i => i is nn.Module or Tensor ? OfValue(i, seen) : 0),
        _ => 0,
    };

    private static long Of(nn.Module m, HashSet<IntPtr> seen) =>
        m.parameters().Sum(p => Of(p, seen)) + m.buffers().Sum(b => Of(b, seen));

    // A tensor reachable twice (a generator exposed under two names) is one allocation.
    private static long Of(Tensor t, HashSet<IntPtr> seen) =>
        t.IsInvalid || !seen.Add(t.Handle) ? 0 : t.numel() * t.ElementSize;
}
