using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics.Fid;

/// <summary>
/// Mean and unbiased covariance (N-1) of feature vectors, float64, as pytorch-fid's mu/sigma.
/// Sigma is row-major [Dims * Dims].
/// </summary>
public sealed record GaussianStats(double[] Mu, double[] Sigma, long Count)
{
    public int Dims => Mu.Length;

    public static GaussianStats FromTensors(Tensor mu, Tensor sigma, long count = 0)
    {
        var m = mu.to(ScalarType.Float64).cpu().flatten().data<double>().ToArray();
        var s = sigma.to(ScalarType.Float64).cpu().contiguous().flatten().data<double>().ToArray();
        if (s.Length != (long)m.Length * m.Length)
            throw new ArgumentException($"sigma has {s.Length} values; expected {m.Length}x{m.Length} for mu of length {m.Length}");
        return new GaussianStats(m, s, count);
    }

    public Tensor MuTensor() => tensor(Mu, [Dims]);
    public Tensor SigmaTensor() => tensor(Sigma, [Dims, Dims]);

    /// <summary>Mean and covariance of all rows of [N, D] (any float dtype; computed in float64).</summary>
    public static GaussianStats Of(Tensor features)
    {
        var acc = new GaussianStatsAccumulator(features.shape[1]);
        acc.Add(features);
        return acc.ToStats();
    }
}

/// <summary>
/// Streaming mean/covariance in float64 (Chan et al. pairwise update of centred sums), so 50k images need no 50k x 2048
/// buffer and no cancellation from raw second moments. Lives on the device of the first batch.
/// </summary>
public sealed class GaussianStatsAccumulator : IDisposable
{
    private Tensor? mean;   // [D]
    private Tensor? m2;     // [D, D] sum of centred outer products
    private long n;

    public GaussianStatsAccumulator(long dims) => Dims = dims;

    public long Dims { get; }
    public long Count => n;

    /// <summary>Adds a batch of feature rows [B, D]; float32 features are upcast to float64 first.</summary>
    public void Add(Tensor features)
    {
        if (features.dim() != 2 || features.shape[1] != Dims)
            throw new ArgumentException($"expected features [B, {Dims}], got [{string.Join(", ", features.shape)}]", nameof(features));
        long b = features.shape[0];
        if (b == 0) return;
        using var scope = NewDisposeScope();
        var x = features.detach().to(ScalarType.Float64);
        var bm = x.mean([0]);
        var xc = x - bm;
        var bm2 = xc.t().matmul(xc);
        // The accumulator owns mean/m2 (Dispose frees them): detached, not moved to the caller's scope, which may be a
        // per-batch scope (FidFeatureExtractor's) that would free them before the next batch.
        if (mean is null || m2 is null)
        {
            mean = bm.DetachFromDisposeScope();
            m2 = bm2.DetachFromDisposeScope();
            n = b;
            return;
        }
        long total = n + b;
        var delta = bm - mean.to(bm.device);
        var newMean = mean + delta * ((double)b / total);
        var newM2 = m2 + bm2 + delta.outer(delta) * ((double)n * b / total);
        mean.Dispose(); m2.Dispose();
        mean = newMean.DetachFromDisposeScope();
        m2 = newM2.DetachFromDisposeScope();
        n = total;
    }

    /// <summary>mu and sigma (N-1 denominator). Needs at least two rows: the covariance of one sample is undefined.</summary>
    public GaussianStats ToStats()
    {
        if (n < 2 || mean is null || m2 is null)
            throw new InvalidOperationException($"FID statistics need at least 2 feature rows (got {n}); FID is only meaningful for N >> dims.");
        using var scope = NewDisposeScope();
        return GaussianStats.FromTensors(mean, m2 / (n - 1), n);
    }

    public void Dispose()
    {
        mean?.Dispose();
        m2?.Dispose();
    }
}
