using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.Engine.Metrics.Ppl;

public enum PplSpace { W, Z }

public enum PplSamplingMode
{
    /// <summary>t = 0 only (not t in {0, 1}), as the official code and rosinality.</summary>
    End,
    /// <summary>t ~ U(0, 1).</summary>
    Full,
}

/// <summary>ppl.py arguments. Defaults are rosinality's CLI defaults (the official metrics use 50,000 samples).</summary>
public sealed record PplOptions
{
    public PplSpace Space { get; init; } = PplSpace.W;
    public PplSamplingMode Sampling { get; init; } = PplSamplingMode.End;
    public int Samples { get; init; } = 5000;
    public int Batch { get; init; } = 64;
    public double Epsilon { get; init; } = 1e-4;
    /// <summary>FFHQ face crop: rows 3c..7c, columns 2c..6c with c = H / 8.</summary>
    public bool Crop { get; init; }
    /// <summary>Images at least twice this size are bilinearly resized to it before LPIPS (no antialias).</summary>
    public int LpipsSize { get; init; } = 256;

    public string Name => $"ppl_{(Space == PplSpace.W ? "w" : "z")}{(Sampling == PplSamplingMode.End ? "end" : "full")}";
}

/// <summary>One batch of random draws: z [2B, ZDim] (pairs interleaved), t [B], noise maps.</summary>
public sealed record PplDraw(Tensor Z, Tensor T, IReadOnlyList<Tensor> Noise);

/// <summary>Outcome of a PPL run; distances in the run's precision (float32 values widened, or float64).</summary>
public sealed record PplResult(double Value, double[] Distances, PplFilterResult Filter);

/// <summary>
/// Perceptual path length as rosinality ppl.py computes it (W space: mapping, lerp at t and t + eps), and Z space per
/// the StyleGAN definition (slerp at t and t + eps, then mapping): ppl.py itself has no Z branch (`--space z` fails
/// with NameError), so our Z numbers follow the official TF metric instead.
/// </summary>
public static class PerceptualPathLength
{
    /// <summary>ppl.py batch sizes: [batch] * (n / batch) + [n % batch] (the last may be 0; such a batch is skipped).</summary>
    public static int[] BatchSizes(int samples, int batch) =>
        [.. Enumerable.Repeat(batch, samples / batch), samples % batch];

    /// <summary>rosinality lerp: a + (b - a) * t.</summary>
    public static Tensor Lerp(Tensor a, Tensor b, Tensor t) => a + (b - a) * t;

    /// <summary>StyleGAN slerp (unit-norm result, no clamping of the dot product), norms over the last axis.</summary>
    public static Tensor Slerp(Tensor a, Tensor b, Tensor t)
    {
        a = a / a.norm(-1, keepdim: true);
        b = b / b.norm(-1, keepdim: true);
        var d = (a * b).sum(-1, keepdim: true);
        var p = t * d.acos();
        var c = b - d * a;
        c = c / c.norm(-1, keepdim: true);
        var r = a * p.cos() + c * p.sin();
        return r / r.norm(-1, keepdim: true);
    }

    /// <summary>
    /// d / eps^2 for the B pairs of one draw ([B], same dtype as the images): latent endpoints at t and t + eps,
    /// one noise set for the batch, optional face crop, resize when at least 2x <see cref="PplOptions.LpipsSize"/>.
    /// </summary>
    public static Tensor BatchDistances(IPplGenerator g, IPerceptualLoss lpips, PplDraw draw, PplOptions o)
    {
        using var scope = NewDisposeScope();
        long b = draw.T.shape[0];
        var t = draw.T.unsqueeze(1);
        var even = TensorIndex.Slice(0, null, 2);
        var odd = TensorIndex.Slice(1, null, 2);
        Tensor latentE;
        if (o.Space == PplSpace.W)
        {
            var latent = g.Mapping(draw.Z);
            var (l0, l1) = (latent[even], latent[odd]);
            var e0 = Lerp(l0, l1, t);
            var e1 = Lerp(l0, l1, t + o.Epsilon);
            latentE = stack([e0, e1], 1).view(2 * b, latent.shape[1]);
        }
        else
        {
            var (z0, z1) = (draw.Z[even], draw.Z[odd]);
            var e0 = Slerp(z0, z1, t);
            var e1 = Slerp(z0, z1, t + o.Epsilon);
            latentE = g.Mapping(stack([e0, e1], 1).view(2 * b, draw.Z.shape[1]));
        }
        var image = g.Synthesis(latentE, draw.Noise);
        image = Prepare(image, o);
        var dist = lpips.Distance(image[even], image[odd]).view(b) / (o.Epsilon * o.Epsilon);
        return dist.MoveToOuterDisposeScope();
    }

    /// <summary>Face crop and the optional resize of ppl.py.</summary>
    public static Tensor Prepare(Tensor image, PplOptions o)
    {
        if (o.Crop)
        {
            long c = image.shape[2] / 8;
            image = image[.., .., TensorIndex.Slice(3 * c, 7 * c), TensorIndex.Slice(2 * c, 6 * c)];
        }
        long factor = image.shape[2] / o.LpipsSize;
        if (factor > 1)
            image = F.interpolate(image, [o.LpipsSize, o.LpipsSize], mode: InterpolationMode.Bilinear, align_corners: false);
        return image;
    }

    /// <summary>
    /// The whole metric: batches of draws (random unless <paramref name="draw"/> supplies them, e.g. to replay),
    /// distances, percentile filter, mean. <paramref name="progress"/> receives the number of samples done.
    /// </summary>
    public static PplResult Run(IPplGenerator g, IPerceptualLoss lpips, PplOptions o, Device device, ScalarType dtype = ScalarType.Float32,
        Func<int, int, PplDraw>? draw = null, Generator? rng = null, IProgress<int>? progress = null, CancellationToken ct = default)
    {
        if (o.Samples < 1 || o.Batch < 1) throw new ArgumentException("PPL needs at least one sample and a positive batch size");
        draw ??= (_, n) => new PplDraw(
            randn([2 * n, g.ZDim], dtype: dtype, device: device, generator: rng),
            o.Sampling == PplSamplingMode.Full ? rand([n], dtype: dtype, device: device, generator: rng) : zeros([n], dtype: dtype, device: device),
            g.MakeNoise(rng));
        var all = new List<double>(o.Samples);
        var sizes = BatchSizes(o.Samples, o.Batch);
        using (no_grad())
        {
            for (int i = 0; i < sizes.Length; i++)
            {
                ct.ThrowIfCancellationRequested();
                if (sizes[i] == 0) continue;
                using var scope = NewDisposeScope();
                var d = draw(i, sizes[i]);
                var dist = BatchDistances(g, lpips, d, o);
                all.AddRange(dist.to(ScalarType.Float64).cpu().data<double>().ToArray());
                progress?.Report(all.Count);
            }
        }
        var distances = all.ToArray();
        var filter = PplFilter.Apply(distances);
        return new PplResult(filter.Mean, distances, filter);
    }
}
