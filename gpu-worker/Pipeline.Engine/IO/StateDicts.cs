using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.IO;

/// <summary>Navigates an unpickled checkpoint tree and loads state_dicts into modules with clear diagnostics.</summary>
public static class StateDicts
{
    /// <summary>
    /// The tensors of the dict found by following <paramref name="keys"/> from <paramref name="root"/>
    /// (e.g. "g_ema"). Non-tensor entries are skipped. No keys: root itself must be the state_dict.
    /// </summary>
    public static OrderedDictionary<string, Tensor> Get(object? root, params string[] keys)
    {
        object? node = root;
        var walked = new List<string>();
        foreach (var k in keys)
        {
            if (node is not OrderedDictionary<string, object?> d)
                throw new InvalidDataException($"checkpoint entry '{string.Join('.', walked)}' is not a dict, so it has no '{k}'");
            if (!d.TryGetValue(k, out node))
                throw new KeyNotFoundException($"checkpoint has no '{string.Join('.', walked.Append(k))}'; available: {string.Join(", ", d.Keys)}");
            walked.Add(k);
        }
        if (node is not OrderedDictionary<string, object?> dict)
            throw new InvalidDataException($"checkpoint entry '{string.Join('.', walked)}' is not a state_dict");
        var result = new OrderedDictionary<string, Tensor>();
        foreach (var (k, v) in dict)
            if (v is Tensor t) result[k] = t;
        return result;
    }

    /// <summary>True when the tree has a dict at <paramref name="key"/> at its top level.</summary>
    public static bool Has(object? root, string key) =>
        root is OrderedDictionary<string, object?> d && d.TryGetValue(key, out var v) && v is not null;

    /// <summary>Keys that begin with <paramref name="prefix"/>, with the prefix removed.</summary>
    public static OrderedDictionary<string, Tensor> WithPrefix(IReadOnlyDictionary<string, Tensor> sd, string prefix)
    {
        var r = new OrderedDictionary<string, Tensor>();
        foreach (var (k, v) in sd)
            if (k.StartsWith(prefix, StringComparison.Ordinal)) r[k[prefix.Length..]] = v;
        return r;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into the module's parameters and buffers (dtype/device of the module kept).
    /// Throws with the lists of missing and unexpected keys and shape mismatches, unless strict is false
    /// (then only shape mismatches throw). <paramref name="ignore"/> names keys that may be absent or extra.
    /// </summary>
    public static void Load(nn.Module module, IEnumerable<KeyValuePair<string, Tensor>> source, bool strict = true, Func<string, bool>? ignore = null, string? what = null)
    {
        ignore ??= _ => false;
        var target = module.state_dict();
        var src = source.ToDictionary(kv => kv.Key, kv => kv.Value);
        var missing = target.Keys.Where(k => !src.ContainsKey(k) && !ignore(k)).ToList();
        var unexpected = src.Keys.Where(k => !target.ContainsKey(k) && !ignore(k)).ToList();
        var mismatched = target.Where(kv => src.TryGetValue(kv.Key, out var s) && !s.shape.SequenceEqual(kv.Value.shape))
            .Select(kv => $"{kv.Key}: checkpoint [{string.Join(", ", src[kv.Key].shape)}] vs model [{string.Join(", ", kv.Value.shape)}]")
            .ToList();
        if (mismatched.Count > 0 || (strict && (missing.Count > 0 || unexpected.Count > 0)))
        {
            var msg = $"state_dict does not fit {what ?? module.GetName()}:";
            if (missing.Count > 0) msg += $"\n  missing keys ({missing.Count}): {string.Join(", ", missing.Take(40))}";
            if (unexpected.Count > 0) msg += $"\n  unexpected keys ({unexpected.Count}): {string.Join(", ", unexpected.Take(40))}";
            if (mismatched.Count > 0) msg += $"\n  shape mismatches ({mismatched.Count}): {string.Join("; ", mismatched.Take(20))}";
            throw new InvalidDataException(msg);
        }
        using var _ = no_grad();
        // Frees the dtype/device conversions at once; the source tensors stay their caller's.
        using var scope = NewDisposeScope();
        foreach (var (k, dst) in target)
            if (src.TryGetValue(k, out var s))
                dst.copy_(s.to(dst.dtype, dst.device));
    }
}
