using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>projector.py settings (spec section 12); defaults are the reference's.</summary>
public sealed record StyleGan1ProjectorOptions
{
    public int Step { get; init; }
    public int Iterations { get; init; } = 1000;
    public double LearningRate { get; init; } = 0.1;
    public double Noise { get; init; } = 0.05;
    public double NoiseRamp { get; init; } = 0.75;
    public double NoiseRegularize { get; init; } = 1e5;
    public double Mse { get; init; }
}

/// <summary>
/// projector.py for v1 checkpoints: Adam over a latent (fed through the mapping network again, as the reference
/// does) and the noise maps, LPIPS (optional <see cref="IPerceptualLoss"/>) + noise regularisation + MSE.
/// </summary>
public static class StyleGan1Projector
{
    /// <summary>Cosine ramp-down over the last <paramref name="rampdown"/> and linear ramp-up over the first <paramref name="rampup"/>.</summary>
    public static double GetLr(double t, double initialLr, double rampdown = 0.25, double rampup = 0.05)
    {
        var ramp = Math.Min(1, (1 - t) / rampdown);
        ramp = 0.5 - 0.5 * Math.Cos(ramp * Math.PI);
        ramp *= Math.Min(1, t / rampup);
        return initialLr * ramp;
    }

    /// <summary>Mean w [D] of style(z) and the scalar std sqrt(sum((w - mean)^2) / n) over all entries.</summary>
    public static (Tensor Mean, Tensor Std) LatentStats(StyledGenerator g, Tensor z)
    {
        using var _ = no_grad();
        var w = g.Map(z);
        var mean = w.mean([0]);
        var std = ((w - mean).pow(2).sum() / z.shape[0]).sqrt();
        return (mean, std);
    }

    /// <summary>Sum over maps and scales (down to 8 px) of squared mean auto-correlations at a shift of one pixel.</summary>
    public static Tensor NoiseRegularize(IEnumerable<Tensor> noises)
    {
        Tensor loss = tensor(0f);
        foreach (var n0 in noises)
        {
            var noise = n0;
            long size = noise.shape[2];
            while (true)
            {
                loss = loss + (noise * noise.roll(1, 3)).mean().pow(2) + (noise * noise.roll(1, 2)).mean().pow(2);
                if (size <= 8) break;
                noise = noise.reshape(-1, 1, size / 2, 2, size / 2, 2).mean([3, 5]);
                size /= 2;
            }
        }
        return loss;
    }

    /// <summary>In place: subtract each map's mean and divide by its unbiased std (over the whole tensor, batch included).</summary>
    public static void NoiseNormalize_(IEnumerable<Tensor> noises)
    {
        using var _ = no_grad();
        foreach (var n in noises)
        {
            var mean = n.mean();
            var std = n.std();
            n.sub_(mean).div_(std);
        }
    }

    /// <summary>
    /// Runs the optimisation loop from <paramref name="latent"/> ([B, D], usually the mean w repeated) and
    /// <paramref name="noises"/> (one [B, 1, res, res] map per level); both are updated in place with the result. <paramref name="latentDraw"/>
    /// supplies randn_like(latent) for iteration i (null draws it). Returns the loss of each iteration.
    /// </summary>
    public static List<double> Optimize(StyledGenerator g, Tensor targets, Tensor latent, IReadOnlyList<Tensor> noises, Tensor latentStd,
        StyleGan1ProjectorOptions o, IPerceptualLoss? perceptual = null, Func<int, Tensor>? latentDraw = null,
        IProgress<(int Done, int Total)>? progress = null, CancellationToken ct = default)
    {
        // Adam needs Parameters; they wrap copies, and the results are copied back into the caller's tensors.
        var latentP = new Parameter(latent.detach().clone(), true);
        var noiseP = noises.Select(n => new Parameter(n.detach().clone(), true)).ToArray();
        using var adam = optim.Adam(noiseP.Prepend(latentP), o.LearningRate);
        var losses = new List<double>();
        double stdValue = latentStd.item<float>();
        for (int i = 0; i < o.Iterations; i++)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            double t = (double)i / o.Iterations;
            foreach (var group in adam.ParamGroups) group.LearningRate = GetLr(t, o.LearningRate);
            double strength = stdValue * o.Noise * Math.Pow(Math.Max(0, 1 - t / o.NoiseRamp), 2);
            var draw = latentDraw?.Invoke(i) ?? randn_like(latentP);
            var latentN = latentP + draw * strength;
            var img = g.Forward([latentN], new StyleGan1ForwardOptions { Step = o.Step, Noise = noiseP });
            if (img.shape[2] > 256)
            {
                long f = img.shape[2] / 256;
                img = img.reshape(img.shape[0], img.shape[1], img.shape[2] / f, f, img.shape[3] / f, f).mean([3, 5]);
            }
            var loss = o.NoiseRegularize * NoiseRegularize(noiseP) + o.Mse * nn.functional.mse_loss(img, targets);
            if (perceptual is not null) loss = loss + perceptual.Distance(img, targets).sum();
            adam.zero_grad();
            loss.backward();
            adam.step();
            NoiseNormalize_(noiseP);
            losses.Add(loss.item<float>());
            progress?.Report((i + 1, o.Iterations));
        }
        using (no_grad())
        {
            latent.copy_(latentP);
            for (int k = 0; k < noises.Count; k++) noises[k].copy_(noiseP[k]);
        }
        return losses;
    }
}
