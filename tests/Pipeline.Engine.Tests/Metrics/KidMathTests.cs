using Pipeline.Engine.Metrics.Kid;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>KID against closed forms and a plain double-loop evaluation of the formula (no fixtures needed).</summary>
public class KidMathTests
{
    private static Tensor Features(int n, int d, long seed, double shift = 0) =>
        randn([n, d], dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator((ulong)seed)) + shift;

    private static double[][] Rows(Tensor t) =>
        Enumerable.Range(0, (int)t.shape[0]).Select(i => t[i].to(ScalarType.Float64).data<double>().ToArray()).ToArray();

    private static double K(double[] u, double[] v)
    {
        double dot = 0;
        for (int i = 0; i < u.Length; i++) dot += u[i] * v[i];
        return Math.Pow(dot / u.Length + 1, 3);
    }

    /// <summary>The unbiased MMD² of one subset written out as sums over pairs: mean over i != j of k(x)+k(y), minus 2 mean k(x, y).</summary>
    private static double NaiveKid(double[][] f1, double[][] f2, long[][] sx, long[][] sy)
    {
        double t = 0;
        int m = sx[0].Length;
        for (int s = 0; s < sx.Length; s++)
        {
            double within = 0, cross = 0;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < m; j++)
                {
                    if (i != j) within += K(f2[sx[s][i]], f2[sx[s][j]]) + K(f1[sy[s][i]], f1[sy[s][j]]);
                    cross += K(f2[sx[s][i]], f1[sy[s][j]]);
                }
            t += within / (m - 1) - 2 * cross / m;
        }
        return t / sx.Length / m;
    }

    private static long[][] Index(Tensor t) =>
        Enumerable.Range(0, (int)t.shape[0]).Select(i => t[i].data<long>().ToArray()).ToArray();

    [Fact]
    public void ReplayMatchesThePairwiseSumsOfTheDefinition()
    {
        using var scope = NewDisposeScope();
        var f1 = Features(70, 12, 1);
        var f2 = Features(55, 12, 2, shift: 0.3);
        var (sx, sy) = KernelInceptionDistance.DrawSubsets(70, 55, new KidOptions { NumSubsets = 6, MaxSubsetSize = 40, Seed = 5 });
        var r = KernelInceptionDistance.Compute(f1, f2, sx, sy);
        double expected = NaiveKid(Rows(f1), Rows(f2), Index(sx), Index(sy));
        Assert.Equal(40, r.SubsetSize);
        Assert.True(Math.Abs(r.Value - expected) <= 1e-11 * Math.Abs(expected), $"KID {r.Value:R} vs pairwise sums {expected:R}");
    }

    [Fact]
    public void IdenticalSetsGiveTheClosedFormOfTheUnbiasedEstimator()
    {
        using var scope = NewDisposeScope();
        // With m = n every subset is a permutation of the whole set, so for x and y both the set itself:
        // KID = 2 (S / m - T) / (m (m - 1)) with S = sum of all k(f_i, f_j) and T = sum of k(f_i, f_i), for any seed.
        var f = Features(30, 8, 3);
        var rows = Rows(f);
        double s = 0, tr = 0;
        for (int i = 0; i < 30; i++)
        {
            tr += K(rows[i], rows[i]);
            for (int j = 0; j < 30; j++) s += K(rows[i], rows[j]);
        }
        double expected = 2 * (s / 30 - tr) / (30.0 * 29);
        foreach (var seed in new long[] { 0, 17 })
        {
            var r = KernelInceptionDistance.Compute(f, f.clone(), new KidOptions { NumSubsets = 4, MaxSubsetSize = 1000, Seed = seed });
            Assert.Equal(30, r.SubsetSize);
            Assert.True(Math.Abs(r.Value - expected) <= 1e-11 * Math.Abs(expected), $"seed {seed}: KID {r.Value:R} vs closed form {expected:R}");
        }
        Assert.True(expected < 0, "the unbiased estimate of identical sets is slightly negative");
    }

    [Fact]
    public void ShiftedDistributionsScoreFarAboveSameDistribution()
    {
        using var scope = NewDisposeScope();
        var o = new KidOptions { NumSubsets = 10, MaxSubsetSize = 200 };
        double same = KernelInceptionDistance.Compute(Features(400, 16, 10), Features(400, 16, 11), o).Value;
        double shifted = KernelInceptionDistance.Compute(Features(400, 16, 10), Features(400, 16, 11, shift: 1), o).Value;
        Assert.True(shifted > 50 * Math.Abs(same), $"shifted {shifted} vs same {same}");
    }

    [Fact]
    public void SeededDrawsAreReproducibleDistinctAndReplayable()
    {
        using var scope = NewDisposeScope();
        var f1 = Features(50, 4, 20);
        var f2 = Features(80, 4, 21);
        var o = new KidOptions { NumSubsets = 5, MaxSubsetSize = 1000, Seed = 9 };
        var (sx, sy) = KernelInceptionDistance.DrawSubsets(50, 80, o);
        Assert.Equal(new long[] { 5, 50 }, sx.shape);
        Assert.Equal(new long[] { 5, 50 }, sy.shape);
        Assert.All(Index(sx), row => Assert.True(row.Distinct().Count() == 50 && row.All(i => i is >= 0 and < 80)));
        Assert.All(Index(sy), row => Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), row.Order()));
        double seeded = KernelInceptionDistance.Compute(f1, f2, o).Value;
        Assert.Equal(seeded, KernelInceptionDistance.Compute(f1, f2, o).Value);
        Assert.Equal(seeded, KernelInceptionDistance.Compute(f1, f2, sx, sy).Value);
        Assert.NotEqual(seeded, KernelInceptionDistance.Compute(f1, f2, o with { Seed = 10 }).Value);
    }

    [Fact]
    public void Float32FeaturesGiveTheValueOfTheirExactFloat64Upcast()
    {
        using var scope = NewDisposeScope();
        var f1 = Features(40, 6, 30).to(ScalarType.Float32);
        var f2 = Features(40, 6, 31, shift: 0.2).to(ScalarType.Float32);
        var o = new KidOptions { NumSubsets = 3, MaxSubsetSize = 25 };
        Assert.Equal(KernelInceptionDistance.Compute(f1.to(ScalarType.Float64), f2.to(ScalarType.Float64), o).Value,
            KernelInceptionDistance.Compute(f1, f2, o).Value);
    }

    [Fact]
    public void BadInputsAreRejected()
    {
        using var scope = NewDisposeScope();
        var f = Features(10, 4, 40);
        Assert.Throws<ArgumentException>(() => KernelInceptionDistance.Compute(f, Features(1, 4, 41)));
        Assert.Throws<ArgumentException>(() => KernelInceptionDistance.Compute(f, Features(10, 5, 41)));
        Assert.Throws<ArgumentOutOfRangeException>(() => KernelInceptionDistance.Compute(f, f, new KidOptions { NumSubsets = 0 }));
        var ok = tensor(new long[] { 0, 1, 2 }, [1, 3]);
        Assert.Throws<ArgumentException>(() => KernelInceptionDistance.Compute(f, f, tensor(new long[] { 0, 1, 1 }, [1, 3]), ok));
        Assert.Throws<ArgumentException>(() => KernelInceptionDistance.Compute(f, f, ok, tensor(new long[] { 0, 1, 10 }, [1, 3])));
        Assert.Throws<ArgumentException>(() => KernelInceptionDistance.Compute(f, f, ok, tensor(new long[] { 0, 1 }, [1, 2])));
    }
}
