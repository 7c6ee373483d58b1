using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics.Kid;

/// <summary>Settings of the KID estimator; the defaults are clean-fid's and stylegan2-ada's (100 subsets of up to 1000).</summary>
public sealed record KidOptions
{
    public int NumSubsets { get; init; } = 100;
    public int MaxSubsetSize { get; init; } = 1000;
    /// <summary>
    /// Seed of the subset draws. The references use numpy's global RNG unseeded; a fixed seed makes a record
    /// reproducible from its settings (the value still varies with the seed by the estimator's own variance).
    /// </summary>
    public long Seed { get; init; }
}

/// <summary>KID and the subset size m it used (m = min(n1, n2, max_subset_size)).</summary>
public sealed record KidResult(double Value, int SubsetSize, int NumSubsets);

/// <summary>
/// Kernel Inception Distance as clean-fid's kernel_distance (= stylegan2-ada's KID): for each subset, m rows x of feats2
/// and m rows y of feats1 drawn without replacement, a = k(x, x) + k(y, y), b = k(x, y) with the cubic polynomial
/// kernel k(u, v) = (u·v / d + 1)^3, t += (sum(a) - trace(a)) / (m - 1) - 2 sum(b) / m; KID = t / subsets / m, an
/// unbiased MMD² that can be slightly negative for equal distributions. Features of any float dtype are upcast to
/// float64 after gathering each subset (exact for float32 Inception features), so every operation runs in float64.
/// </summary>
public static class KernelInceptionDistance
{
    public static int SubsetSize(long n1, long n2, int maxSubsetSize) => (int)Math.Min(Math.Min(n1, n2), maxSubsetSize);

    /// <summary>KID with subsets drawn from a generator seeded with <see cref="KidOptions.Seed"/>.</summary>
    public static KidResult Compute(Tensor feats1, Tensor feats2, KidOptions? options = null)
    {
        using var scope = NewDisposeScope();
        var (x, y) = DrawSubsets(feats1.shape[0], feats2.shape[0], options ?? new KidOptions());
        return Compute(feats1, feats2, x, y);
    }

    /// <summary>
    /// Subset indices [subsets, m] (int64, CPU) for feats2 (x) and feats1 (y). Per subset x is drawn before y, the
    /// reference's order, so one generator stream gives the same pairs however many subsets follow.
    /// </summary>
    public static (Tensor SubsetsX, Tensor SubsetsY) DrawSubsets(long n1, long n2, KidOptions options)
    {
        if (options.NumSubsets < 1) throw new ArgumentOutOfRangeException(nameof(options), "KID needs at least one subset");
        if (options.MaxSubsetSize < 2) throw new ArgumentOutOfRangeException(nameof(options), "KID subsets need at least 2 rows");
        int m = SubsetSize(n1, n2, options.MaxSubsetSize);
        if (m < 2) throw new ArgumentException($"KID needs at least 2 feature rows per set (got {n1} and {n2})");
        using var scope = NewDisposeScope();
        using var gen = new TorchSharp.torch.Generator(unchecked((ulong)options.Seed));
        var xs = new Tensor[options.NumSubsets];
        var ys = new Tensor[options.NumSubsets];
        for (int s = 0; s < options.NumSubsets; s++)
        {
            // A prefix of a uniform permutation is a uniform draw of m distinct rows (choice without replacement).
            xs[s] = randperm(n2, generator: gen)[..m];
            ys[s] = randperm(n1, generator: gen)[..m];
        }
        return (stack(xs).MoveToOuterDisposeScope(), stack(ys).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// KID over the given subsets: row s of <paramref name="subsetsX"/> indexes feats2, of <paramref name="subsetsY"/>
    /// feats1 (both [subsets, m]). Replaying a reference run's draws reproduces its value.
    /// </summary>
    public static KidResult Compute(Tensor feats1, Tensor feats2, Tensor subsetsX, Tensor subsetsY)
    {
        using var scope = NewDisposeScope();
        CheckFeatures(feats1, feats2);
        subsetsX = CheckSubsets(subsetsX, feats2.shape[0], "subsetsX (rows of feats2)");
        subsetsY = CheckSubsets(subsetsY, feats1.shape[0], "subsetsY (rows of feats1)");
        if (!subsetsX.shape.SequenceEqual(subsetsY.shape))
            throw new ArgumentException($"subsetsX [{string.Join(", ", subsetsX.shape)}] and subsetsY [{string.Join(", ", subsetsY.shape)}] differ in shape");
        int subsets = (int)subsetsX.shape[0], m = (int)subsetsX.shape[1];
        long d = feats1.shape[1];
        double t = 0;
        for (int s = 0; s < subsets; s++)
        {
            using var inner = NewDisposeScope();
            var x = feats2.index_select(0, subsetsX[s].to(feats2.device)).to(ScalarType.Float64);
            var y = feats1.index_select(0, subsetsY[s].to(feats1.device)).to(ScalarType.Float64);
            t += SubsetTerm(x, y, d, m);
        }
        return new KidResult(t / subsets / m, m, subsets);
    }

    /// <summary>One subset's term, in the reference's order of operations (python float accumulation of float64 sums).</summary>
    private static double SubsetTerm(Tensor x, Tensor y, long d, int m)
    {
        var a = Kernel(x, x, d) + Kernel(y, y, d);
        var b = Kernel(x, y, d);
        double sumA = a.sum().item<double>(), traceA = a.diagonal().sum().item<double>(), sumB = b.sum().item<double>();
        return (sumA - traceA) / (m - 1) - sumB * 2 / m;
    }

    private static Tensor Kernel(Tensor u, Tensor v, long d) => (u.matmul(v.t()) / d + 1).pow(3);

    private static void CheckFeatures(Tensor feats1, Tensor feats2)
    {
        if (feats1.dim() != 2 || feats2.dim() != 2)
            throw new ArgumentException($"KID features must be [N, D]; got [{string.Join(", ", feats1.shape)}] and [{string.Join(", ", feats2.shape)}]");
        if (feats1.shape[1] != feats2.shape[1] || feats1.shape[1] < 1)
            throw new ArgumentException($"KID feature dimensions differ or are empty: {feats1.shape[1]} vs {feats2.shape[1]}");
        if (!feats1.is_floating_point() || !feats2.is_floating_point())
            throw new ArgumentException("KID features must be floating point");
    }

    /// <summary>
    /// Subsets are [subsets >= 1, m >= 2] integer rows of distinct indices in [0, n), as choice(n, m, replace=False)
    /// gives; returned as int64 on the CPU.
    /// </summary>
    private static Tensor CheckSubsets(Tensor idx, long n, string what)
    {
        if (idx.dim() != 2 || idx.shape[0] < 1 || idx.shape[1] < 2)
            throw new ArgumentException($"{what}: expected [subsets >= 1, m >= 2], got [{string.Join(", ", idx.shape)}]");
        if (idx.dtype is not (ScalarType.Int64 or ScalarType.Int32))
            throw new ArgumentException($"{what}: indices must be int64 or int32, not {idx.dtype}");
        if (idx.shape[1] > n) throw new ArgumentException($"{what}: subsets of {idx.shape[1]} rows drawn without replacement from {n} rows");
        idx = idx.to(ScalarType.Int64).cpu();
        if (idx.min().item<long>() < 0 || idx.max().item<long>() >= n) throw new ArgumentException($"{what}: index outside [0, {n})");
        var (sorted, _) = idx.sort(1);
        long m = idx.shape[1];
        if (sorted.narrow(1, 1, m - 1).eq(sorted.narrow(1, 0, m - 1)).any().item<bool>())
            throw new ArgumentException($"{what}: a subset repeats a row (draws are without replacement)");
        return idx;
    }
}
