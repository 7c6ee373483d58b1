using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics.Fid;

/// <summary>Thrown where pytorch-fid raises ValueError("Imaginary component m").</summary>
public sealed class FrechetImaginaryComponentException(double maxImag)
    : InvalidOperationException($"Imaginary component {PyRepr(maxImag)}")
{
    public double MaxImaginary { get; } = maxImag;

    /// <summary>Python's float repr (1.0, 0.0015, 1e-05), so messages read like the reference's.</summary>
    internal static string PyRepr(double v)
    {
        if (!double.IsFinite(v)) return double.IsNaN(v) ? "nan" : v > 0 ? "inf" : "-inf";
        string s = v.ToString("R", System.Globalization.CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);
        if (s.Contains('e', StringComparison.Ordinal))
        {
            // C# writes 1e-5 as 1e-05 already; Python also pads the exponent to two digits.
            int i = s.IndexOf('e', StringComparison.Ordinal);
            string mant = s[..i], exp = s[(i + 1)..];
            string sign = exp.StartsWith('-') ? "-" : "+";
            exp = exp.TrimStart('+', '-').PadLeft(2, '0');
            return $"{mant}e{sign}{exp}";
        }
        return s.Contains('.', StringComparison.Ordinal) ? s : s + ".0";
    }
}

/// <summary>Result of <see cref="FrechetDistance.Compute"/> with the diagnostics of the safeguards.</summary>
public sealed record FrechetResult(double Value, double MeanTerm, double TraceSqrtProduct, bool OffsetUsed, double MaxImaginary);

/// <summary>
/// pytorch-fid calculate_frechet_distance in float64: ||mu1-mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr(sqrtm(S1 S2)).
/// Tr(sqrtm(S1 S2)) is the sum of principal square roots of the eigenvalues of S1 S2, taken from the symmetric
/// form S1^1/2 S2 S1^1/2 (eigh) when a covariance is symmetric PSD, else from the general eigenvalues. The reference's
/// safeguards are kept: a non-finite root retries with eps on both diagonals; an imaginary part above 1e-3 raises.
/// (scipy's Schur sqrtm differs only for defective, non-covariance inputs; see docs/metrics.md.)
/// </summary>
public static class FrechetDistance
{
    public const double DefaultEps = 1e-6;
    public const double ImaginaryTolerance = 1e-3;

    public static FrechetResult Compute(GaussianStats a, GaussianStats b, double eps = DefaultEps, Action<string>? warn = null)
    {
        using var scope = NewDisposeScope();
        return Compute(a.MuTensor(), a.SigmaTensor(), b.MuTensor(), b.SigmaTensor(), eps, warn);
    }

    public static FrechetResult Compute(Tensor mu1, Tensor sigma1, Tensor mu2, Tensor sigma2, double eps = DefaultEps, Action<string>? warn = null)
    {
        using var scope = NewDisposeScope();
        mu1 = Vec(mu1); mu2 = Vec(mu2);
        sigma1 = Mat(sigma1); sigma2 = Mat(sigma2);
        if (mu1.shape[0] != mu2.shape[0]) throw new ArgumentException("Training and test mean vectors have different lengths");
        if (!sigma1.shape.SequenceEqual(sigma2.shape)) throw new ArgumentException("Training and test covariances have different dimensions");
        if (sigma1.shape[0] != mu1.shape[0]) throw new ArgumentException("covariance size does not match the mean's length");

        var diff = mu1 - mu2;
        double meanTerm = diff.dot(diff).item<double>();
        var (tr, finite, maxImag) = TraceSqrt(sigma1, sigma2);
        bool offset = false;
        if (!finite)
        {
            warn?.Invoke($"fid calculation produces singular product; adding {eps:G} to diagonal of cov estimates");
            var id = eye(sigma1.shape[0], dtype: ScalarType.Float64) * eps;
            (tr, finite, maxImag) = TraceSqrt(sigma1 + id, sigma2 + id);
            offset = true;
        }
        if (maxImag > ImaginaryTolerance) throw new FrechetImaginaryComponentException(maxImag);
        double value = meanTerm + sigma1.trace().item<double>() + sigma2.trace().item<double>() - 2 * tr;
        return new FrechetResult(value, meanTerm, tr, offset, maxImag);
    }

    private static Tensor Vec(Tensor t) => t.to(ScalarType.Float64).cpu().flatten();

    private static Tensor Mat(Tensor t)
    {
        t = t.to(ScalarType.Float64).cpu();
        if (t.dim() == 0) t = t.reshape(1, 1);
        if (t.dim() != 2 || t.shape[0] != t.shape[1]) throw new ArgumentException("covariance must be a square matrix");
        return t;
    }

    /// <summary>(trace of the principal root of s1·s2, all values finite, largest |imag| of the eigenvalue roots).</summary>
    private static (double Trace, bool Finite, double MaxImag) TraceSqrt(Tensor s1, Tensor s2)
    {
        using var scope = NewDisposeScope();
        var prod = s1.matmul(s2);
        if (!isfinite(prod).all().item<bool>()) return (double.NaN, false, 0);
        // Tr sqrtm(AB) = Tr sqrtm(BA): use whichever side is symmetric PSD as the base of the symmetric form.
        bool symmetric = IsSymmetric(s1) && IsSymmetric(s2);
        foreach (var (p, q) in symmetric ? new[] { (s1, s2), (s2, s1) } : [])
        {
            var root = SymmetricPsdRoot(p);
            if (root is null) continue;
            var m = root.matmul(q).matmul(root);
            m = (m + m.t()) * 0.5;
            var mu = linalg.eigvalsh(m);
            if (!isfinite(mu).all().item<bool>()) return (double.NaN, false, 0);
            double tr = mu.clamp_min(0).sqrt().sum().item<double>();
            double maxImag = (-mu).clamp_min(0).sqrt().max().item<double>();
            return (tr, true, maxImag);
        }
        var lam = linalg.eigvals(prod);
        if (!isfinite(view_as_real(lam)).all().item<bool>()) return (double.NaN, false, 0);
        var r = lam.sqrt();
        return (real(r).sum().item<double>(), true, imag(r).abs().max().item<double>());
    }

    private static bool IsSymmetric(Tensor s)
    {
        double scale = Math.Max(s.abs().max().item<double>(), double.Epsilon);
        return (s - s.t()).abs().max().item<double>() <= 1e-12 * scale;
    }

    /// <summary>Square root of a symmetric matrix with no significantly negative eigenvalue, else null.</summary>
    private static Tensor? SymmetricPsdRoot(Tensor s)
    {
        double scale = Math.Max(s.abs().max().item<double>(), double.Epsilon);
        var (lam, v) = linalg.eigh(s);
        if (lam.min().item<double>() < -1e-9 * scale) return null;
        return (v * lam.clamp_min(0).sqrt()).matmul(v.t());
    }
}
