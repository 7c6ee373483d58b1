namespace Pipeline.Engine.Metrics.Ppl;

/// <summary>Outlier rejection bounds, kept count and mean of the kept distances.</summary>
public sealed record PplFilterResult(double Lo, double Hi, int Kept, double Mean);

/// <summary>
/// ppl.py's filter: lo = np.percentile(d, 1, interpolation="lower"), hi = np.percentile(d, 99, interpolation="higher"),
/// keep lo &lt;= d &lt;= hi (ties kept), mean. With n sorted values: lo = sorted[floor(0.01 (n-1))],
/// hi = sorted[ceil(0.99 (n-1))], the products in double as numpy computes them.
/// </summary>
public static class PplFilter
{
    public static PplFilterResult Apply(IReadOnlyList<double> distances, double lowerPercentile = 1, double upperPercentile = 99)
    {
        int n = distances.Count;
        if (n == 0) throw new ArgumentException("no distances to filter", nameof(distances));
        var sorted = distances.Order().ToArray();
        double qLo = lowerPercentile / 100, qHi = upperPercentile / 100;
        double lo = sorted[(int)Math.Floor((n - 1) * qLo)];
        double hi = sorted[(int)Math.Ceiling((n - 1) * qHi)];
        double sum = 0;
        int kept = 0;
        foreach (var d in distances)
            if (d >= lo && d <= hi) { sum += d; kept++; }
        return new PplFilterResult(lo, hi, kept, sum / kept);
    }
}
