using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>
/// The fixtures' deterministic weight/feature recipe (spec metrics.md §6.2): FNV1a64(key) XOR base seed, SplitMix64
/// finaliser, top 24 bits mapped exactly to [-1, 1).
/// </summary>
internal static class Recipe
{
    public static ulong Fnv1a64(string key)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (byte b in Encoding.UTF8.GetBytes(key))
            h = unchecked((h ^ b) * 0x100000001B3UL);
        return h;
    }

    /// <summary>V(name, count): the value stream in double.</summary>
    public static double[] Values(string name, long count, ulong baseSeed)
    {
        ulong seed = Fnv1a64(name) ^ baseSeed;
        var v = new double[count];
        for (long i = 0; i < count; i++)
        {
            ulong z = unchecked(seed + (ulong)(i + 1) * 0x9E3779B97F4A7C15UL);
            z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
            z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
            z ^= z >> 31;
            long u = (long)(z >> 40);
            v[i] = (u - 8388608) / 8388608.0;
        }
        return v;
    }

    public static ulong ParseSeed(JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? ulong.Parse(e.GetString()!, CultureInfo.InvariantCulture) : e.GetUInt64();

    /// <summary>
    /// Builds a state_dict from manifest recipe entries ({key, shape, dtype, offset, scale, sha256} or {const}),
    /// verifying each tensor's SHA-256 so a wrong recipe fails here and not as a numeric mismatch later.
    /// </summary>
    public static OrderedDictionary<string, Tensor> StateDict(JsonElement entries, ulong baseSeed)
    {
        var sd = new OrderedDictionary<string, Tensor>();
        foreach (var e in entries.EnumerateArray())
        {
            string key = e.GetProperty("key").GetString()!;
            long[] shape = e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            long n = shape.Aggregate(1L, (a, b) => a * b);
            string dtype = e.GetProperty("dtype").GetString()!;
            if (dtype == "int64")
            {
                sd[key] = full(shape, e.GetProperty("const").GetInt64(), dtype: ScalarType.Int64);
                continue;
            }
            if (dtype != "float32") throw new InvalidDataException($"recipe entry {key}: unknown dtype {dtype}");
            double offset = e.GetProperty("offset").GetDouble(), scale = e.GetProperty("scale").GetDouble();
            var v = Values(key, n, baseSeed);
            var w = new float[n];
            for (long i = 0; i < n; i++)
            {
                double prod = scale * v[i];  // two separate double operations, then one cast (no FMA)
                w[i] = (float)(offset + prod);
            }
            if (e.TryGetProperty("sha256", out var sha))
            {
                var bytes = new byte[n * 4];
                Buffer.BlockCopy(w, 0, bytes, 0, bytes.Length);
                string got = Convert.ToHexStringLower(SHA256.HashData(bytes));
                Assert.True(got == sha.GetString(), $"recipe tensor {key}: sha256 {got} != manifest {sha.GetString()}");
            }
            sd[key] = tensor(w, shape);
        }
        return sd;
    }
}
