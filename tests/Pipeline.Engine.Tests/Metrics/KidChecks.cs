using System.Text.Json;
using Pipeline.Engine.Metrics.Kid;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>
/// Checks of metrics/kid: replay the reference's recorded subsets through our estimator and compare KID; the check's
/// params (num_subsets, max_subset_size, subset_size, dim) are asserted against the data, not assumed.
/// </summary>
internal static class KidChecks
{
    public static void Run(MetricsFixture fx, JsonElement c)
    {
        string name = c.GetProperty("name").GetString()!;
        double rtol = c.GetProperty("rtol").GetDouble(), atol = c.GetProperty("atol").GetDouble();
        var p = c.GetProperty("params");
        int numSubsets = p.GetProperty("num_subsets").GetInt32(), maxSubsetSize = p.GetProperty("max_subset_size").GetInt32();
        int subsetSize = p.GetProperty("subset_size").GetInt32(), dim = p.GetProperty("dim").GetInt32();
        using var scope = NewDisposeScope();
        var feats1 = Input(fx, c, "feats1");
        var feats2 = Input(fx, c, "feats2");
        var subsetsX = Input(fx, c, "subsets_x_from_feats2");
        var subsetsY = Input(fx, c, "subsets_y_from_feats1");

        Assert.True(feats1.shape[1] == dim && feats2.shape[1] == dim, $"{name}: features have {feats1.shape[1]} / {feats2.shape[1]} dims, params say {dim}");
        // m = min(n1, n2, max_subset_size): subset_larger_than_sets has max_subset_size above both set sizes.
        Assert.Equal(subsetSize, KernelInceptionDistance.SubsetSize(feats1.shape[0], feats2.shape[0], maxSubsetSize));
        Assert.Equal(new long[] { numSubsets, subsetSize }, subsetsX.shape);
        Assert.Equal(new long[] { numSubsets, subsetSize }, subsetsY.shape);

        var r = KernelInceptionDistance.Compute(feats1, feats2, subsetsX, subsetsY);
        Assert.Equal(subsetSize, r.SubsetSize);
        Assert.Equal(numSubsets, r.NumSubsets);
        double expected = c.GetProperty("expected").GetProperty("kid").GetDouble();
        TestContext.Current.TestOutputHelper?.WriteLine($"{name}: KID {r.Value:R} expected {expected:R} rel err {Math.Abs(r.Value - expected) / Math.Abs(expected):G3}");
        Close.Assert(r.Value, expected, rtol, atol, name);

        // Our own seeded draws (no recorded subsets) use the same m and subset count and give a finite estimate.
        var seeded = KernelInceptionDistance.Compute(feats1, feats2, new KidOptions { NumSubsets = numSubsets, MaxSubsetSize = maxSubsetSize });
        Assert.Equal(subsetSize, seeded.SubsetSize);
        Assert.Equal(numSubsets, seeded.NumSubsets);
        Assert.True(double.IsFinite(seeded.Value), $"{name}: seeded KID {seeded.Value}");
    }

    /// <summary>The check's input whose tensor name ends with /<paramref name="leaf"/> (the manifest lists them by name).</summary>
    private static Tensor Input(MetricsFixture fx, JsonElement c, string leaf)
    {
        var names = c.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var match = names.Where(n => n == leaf || n.EndsWith("/" + leaf, StringComparison.Ordinal)).ToArray();
        Assert.True(match.Length == 1, $"kid check {c.GetProperty("name").GetString()}: inputs [{string.Join(", ", names)}] must name exactly one '{leaf}'");
        return fx.T(match[0]);
    }
}
