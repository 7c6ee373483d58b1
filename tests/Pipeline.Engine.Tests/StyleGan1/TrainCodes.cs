using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// The generator codes of one train_iteration pass (z1 = D pass, z2 = G pass) and the crossover the reference drew for
/// it, recorded as the call's "inject_index": {"d_pass": [i], "g_pass": [j]} (null or absent for a one-code pass).
/// </summary>
internal static class TrainCodes
{
    /// <summary>
    /// Codes named by the call ("z1": [names]) or, by default, in.&lt;z&gt;: [B, D] is one code, [n, B, D] n codes
    /// (train.py's chunks in order); else in.&lt;z&gt;.0, in.&lt;z&gt;.1, ... A multi-code pass without its recorded
    /// crossover cannot be replayed (the reference's draw comes from Python's random) and is an error.
    /// </summary>
    public static StyleGan1Codes Parse(JsonElement call, IReadOnlyDictionary<string, Tensor> io, string z, string pass)
    {
        var codes = Codes(call, io, z);
        var inject = Inject(call, pass);
        if (codes.Length > 1 && inject is null)
            throw new InvalidDataException($"train_iteration: {codes.Length} codes in {z} but no inject_index.{pass}; a random crossover cannot be replayed");
        if (codes.Length == 1 && inject is { Length: > 0 })
            throw new InvalidDataException($"train_iteration: inject_index.{pass} = [{string.Join(", ", inject)}] but {z} is one code");
        return new StyleGan1Codes(codes, codes.Length > 1 ? inject : null);
    }

    private static Tensor[] Codes(JsonElement call, IReadOnlyDictionary<string, Tensor> io, string z)
    {
        Tensor Get(string name) => io.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"train_iteration: io.safetensors has no '{name}'");
        if (call.TryGetProperty(z, out var named) && named.ValueKind == JsonValueKind.Array)
            return named.EnumerateArray().Select(n => Get(n.GetString()!)).ToArray();
        if (io.TryGetValue($"in.{z}", out var t))
            return t.dim() switch
            {
                2 => [t],
                3 => t.unbind(0),
                _ => throw new InvalidDataException($"train_iteration: in.{z} has shape [{string.Join(", ", t.shape)}]; expected [B, D] or [n, B, D]"),
            };
        var list = Enumerable.Range(0, int.MaxValue).Select(k => $"in.{z}.{k}").TakeWhile(io.ContainsKey).Select(Get).ToArray();
        return list.Length > 0 ? list
            : throw new InvalidDataException($"train_iteration: no codes for {z} (in.{z} or in.{z}.0...); inputs: {string.Join(", ", io.Keys.Where(k => k.StartsWith("in.z", StringComparison.Ordinal)))}");
    }

    private static int[]? Inject(JsonElement call, string pass)
    {
        if (!call.TryGetProperty("inject_index", out var all) || all.ValueKind == JsonValueKind.Null) return null;
        if (all.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"train_iteration: inject_index must be {{\"d_pass\": [..], \"g_pass\": [..]}}, got {all}");
        return all.OptInts(pass);
    }
}
