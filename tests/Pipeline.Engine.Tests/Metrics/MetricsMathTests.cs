using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Lpips;
using Pipeline.Engine.Metrics.Ppl;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>Properties of the metrics that hold for any weights and inputs (no fixtures needed).</summary>
public class MetricsMathTests
{
    private static Tensor RandomCovariance(int d, int n, Generator rng)
    {
        var x = randn([n, d], dtype: ScalarType.Float64, generator: rng);
        return x.t().matmul(x) / (n - 1);
    }

    [Fact]
    public void FrechetOfIdenticalStatisticsIsZero()
    {
        using var scope = NewDisposeScope();
        var rng = new Generator(1234);
        var mu = randn([32], dtype: ScalarType.Float64, generator: rng);
        var sigma = RandomCovariance(32, 200, rng);
        var r = FrechetDistance.Compute(mu, sigma, mu, sigma);
        Assert.True(Math.Abs(r.Value) < 1e-9 * sigma.trace().item<double>(), $"FID of identical statistics = {r.Value}");
    }

    [Fact]
    public void FrechetOfDiagonalGaussiansHasTheClosedForm()
    {
        using var scope = NewDisposeScope();
        var rng = new Generator(99);
        int d = 40;
        var mu1 = randn([d], dtype: ScalarType.Float64, generator: rng);
        var mu2 = randn([d], dtype: ScalarType.Float64, generator: rng);
        var a = rand([d], dtype: ScalarType.Float64, generator: rng) * 3;
        var b = rand([d], dtype: ScalarType.Float64, generator: rng) * 3;
        // ||mu1 - mu2||^2 + sum (sqrt a - sqrt b)^2 for diagonal covariances.
        double expected = (mu1 - mu2).square().sum().item<double>() + (a.sqrt() - b.sqrt()).square().sum().item<double>();
        var r = FrechetDistance.Compute(mu1, diag(a), mu2, diag(b));
        Assert.Equal(expected, r.Value, 1e-10 * expected);
    }

    [Fact]
    public void FrechetOfScaledCovarianceIsOneMinusScaleSquaredTimesTrace()
    {
        using var scope = NewDisposeScope();
        var rng = new Generator(7);
        var s = RandomCovariance(24, 100, rng);
        var mu = zeros([24], dtype: ScalarType.Float64);
        // sqrtm(S * c^2 S) = c S, so FID = (1 - c)^2 Tr(S) for a full (non-diagonal) S.
        double c = 1.7;
        var r = FrechetDistance.Compute(mu, s, mu, s * (c * c));
        double expected = (1 - c) * (1 - c) * s.trace().item<double>();
        Assert.Equal(expected, r.Value, 1e-9 * expected);
    }

    [Fact]
    public void StreamingStatisticsEqualOneShotCovariance()
    {
        using var scope = NewDisposeScope();
        var rng = new Generator(5);
        var x = randn([500, 16], dtype: ScalarType.Float64, generator: rng) * 3 + 10;
        using var acc = new GaussianStatsAccumulator(16);
        foreach (var n in new[] { 1, 7, 100, 392 })
        {
            long start = acc.Count;
            acc.Add(x[TensorIndex.Slice(start, start + n)]);
        }
        var s = acc.ToStats();
        Assert.Equal(500, s.Count);
        Close.Assert(s.MuTensor(), x.mean([0]), 1e-12, 1e-12, "mu");
        Close.Assert(s.SigmaTensor(), cov(x.t()), 1e-11, 1e-12, "sigma");
        Assert.Throws<InvalidOperationException>(() => new GaussianStatsAccumulator(16).ToStats());
    }

    [Fact]
    public void StreamingStatisticsSurviveTheCallersPerBatchDisposeScopes()
    {
        // FidFeatureExtractor adds each batch inside its own dispose scope; the running sums must outlive it.
        using var scope = NewDisposeScope();
        var x = randn([60, 8], dtype: ScalarType.Float64, generator: new Generator(8));
        using var acc = new GaussianStatsAccumulator(8);
        for (int i = 0; i < 60; i += 20)
        {
            using var batchScope = NewDisposeScope();
            acc.Add(x[TensorIndex.Slice(i, i + 20)].clone());
        }
        Close.Assert(acc.ToStats().SigmaTensor(), cov(x.t()), 1e-11, 1e-12, "sigma");
    }

    [Fact]
    public void LpipsIsZeroOnIdenticalInputsSymmetricAndDifferentiable()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var lpips = new LpipsVgg();
        var a = rand([2, 3, 32, 32]) * 2 - 1;
        var b = rand([2, 3, 32, 32]) * 2 - 1;
        using (no_grad())
        {
            Assert.All(lpips.forward(a, a).data<float>().ToArray(), v => Assert.Equal(0f, v));
            Assert.Equal(lpips.forward(a, b).data<float>().ToArray(), lpips.forward(b, a).data<float>().ToArray());
            Assert.Equal([2, 1, 1, 1], lpips.forward(a, b).shape);
        }
        var x = a.clone().requires_grad_(true);
        var d = lpips.Distance(x, b);
        Assert.Equal([2], d.shape);
        d.sum().backward();
        Assert.NotNull(x.grad);
        Assert.True(x.grad!.abs().sum().item<float>() > 0, "LPIPS gives no gradient to its input");
        Assert.All(lpips.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void QuantisationOfGeneratorOutputCoversTheByteRange()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { -1.5f, -1f, 0f, 0.999f, 1f, 2f }).view(1, 1, 2, 3).expand(1, 3, 2, 3);
        var q = FidPreprocess.QuantizeSigned(x);
        Assert.Equal([1, 2, 3, 3], q.shape);
        Assert.Equal(new byte[] { 0, 0, 128, 255, 255, 255 }, q[0, .., .., 0].flatten().data<byte>().ToArray());
    }

    [Fact]
    public void LpipsBuffersFollowTheModuleAcrossDtypeChanges()
    {
        using var scope = NewDisposeScope();
        using var lpips = new LpipsVgg();
        lpips.to(ScalarType.Float64);
        Assert.All(lpips.buffers(), b => Assert.Equal(ScalarType.Float64, b.dtype));
        // A stale float32 ScalingLayer field would keep a float32 input float32 and break the float64 convolutions
        // (on CUDA the same staleness would be a device mismatch).
        using (no_grad())
            Assert.Equal(ScalarType.Float64, lpips.forward(rand([1, 3, 16, 16]), rand([1, 3, 16, 16])).dtype);
    }

    /// <summary>Squared L2 per item: with it, PPL of a linear generator has a closed form.</summary>
    private sealed class SquaredL2 : IPerceptualLoss
    {
        public Tensor Distance(Tensor a, Tensor b) => (a - b).square().flatten(1).sum(1);
    }

    private static IPplGenerator Linear(Tensor a) => new DelegatePplGenerator(
        (int)a.shape[1], z => z, (w, _) => w.matmul(a.t()).view(w.shape[0], 3, 4, 4), _ => []);

    [Fact]
    public void PplOfALinearGeneratorInWSpaceIsTheSquaredImageOfTheLatentDifference()
    {
        using var scope = NewDisposeScope();
        var rng = new Generator(3);
        var a = randn([48, 8], dtype: ScalarType.Float64, generator: rng);
        var g = Linear(a);
        var o = new PplOptions { Space = PplSpace.W, Sampling = PplSamplingMode.Full, Samples = 40, Batch = 16, Epsilon = 1e-4 };
        var perBatch = new List<Tensor>();
        var r = PerceptualPathLength.Run(g, new SquaredL2(), o, CPU, ScalarType.Float64, (_, n) =>
        {
            var z = randn([2 * n, 8], dtype: ScalarType.Float64, generator: rng);
            // (1/eps^2) ||A (lerp(t + eps) - lerp(t))||^2 = ||A (w1 - w0)||^2 for any t.
            perBatch.Add((z[TensorIndex.Slice(1, null, 2)] - z[TensorIndex.Slice(0, null, 2)]).matmul(a.t()).square().sum(1).DetachFromDisposeScope());
            return new PplDraw(z, rand([n], dtype: ScalarType.Float64, generator: rng), []);
        }, ct: TestContext.Current.CancellationToken);
        var expected = cat(perBatch.ToArray());
        Close.Assert(tensor(r.Distances), expected, 1e-8, 0, "per-sample PPL");
        Assert.Equal(40, r.Distances.Length);
        Assert.Equal(PplFilter.Apply(r.Distances).Mean, r.Value);
    }

    [Fact]
    public void PplInZSpaceWithIdentityNetworksIsTheSquaredAngleBetweenTheEndpoints()
    {
        using var scope = NewDisposeScope();
        var rng = new Generator(8);
        var g = Linear(eye(48, dtype: ScalarType.Float64));
        var o = new PplOptions { Space = PplSpace.Z, Sampling = PplSamplingMode.Full, Samples = 20, Batch = 20, Epsilon = 1e-5 };
        var z = randn([40, 48], dtype: ScalarType.Float64, generator: rng);
        var t = rand([20], dtype: ScalarType.Float64, generator: rng);
        var r = PerceptualPathLength.Run(g, new SquaredL2(), o, CPU, ScalarType.Float64, (_, _) => new PplDraw(z, t, []),
            ct: TestContext.Current.CancellationToken);
        // slerp moves at constant angular speed theta on the unit sphere: |d slerp / dt|^2 = theta^2.
        var z0 = z[TensorIndex.Slice(0, null, 2)];
        var z1 = z[TensorIndex.Slice(1, null, 2)];
        var theta = ((z0 * z1).sum(1) / (z0.norm(1) * z1.norm(1))).acos();
        Close.Assert(tensor(r.Distances), theta.square(), 1e-4, 0, "per-sample Z PPL");
    }

    [Fact]
    public void BatchSizesAppendTheRemainderEvenWhenZeroAndTheFilterKeepsSmallSets()
    {
        Assert.Equal([64, 64, 22], PerceptualPathLength.BatchSizes(150, 64));
        Assert.Equal([16, 16, 0], PerceptualPathLength.BatchSizes(32, 16));
        // numpy 'lower'/'higher' percentiles: floor(0.01 (n-1)) = 0 and ceil(0.99 (n-1)) = n-1 up to n = 100.
        var values = Enumerable.Range(0, 100).Select(i => (double)(i * 37 % 101)).ToArray();
        var f = PplFilter.Apply(values);
        Assert.Equal(100, f.Kept);
        Assert.Equal(values.Average(), f.Mean, 1e-12);
    }
}
