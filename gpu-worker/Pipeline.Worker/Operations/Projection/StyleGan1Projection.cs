using Pipeline.Engine;
using Pipeline.Engine.StyleGan1;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Projection;

/// <summary>One v1 projection's result (all on the generator's device; the caller owns the tensors).</summary>
/// <param name="Latent">[B, code_dim]: the optimised latent, fed through the mapping network like a z (projector.py).</param>
/// <param name="Noises">One [B, 1, r, r] map per level 0..step.</param>
/// <param name="Image">[B, 3, R, R] at the generator's resolution for the step, in [-1, 1] (not clamped).</param>
/// <param name="Losses">The batch's loss at each iteration (projector.py sums LPIPS over the batch).</param>
public sealed record StyleGan1ProjectionResult(Tensor Latent, IReadOnlyList<Tensor> Noises, Tensor Image, IReadOnlyList<double> Losses);

/// <summary>
/// projector.py for StyleGAN v1 checkpoints (spec stylegan1 section 12) composed from the engine's
/// <see cref="StyleGan1Projector"/>: latent statistics of 10,000 z, the mean w repeated per image as the start,
/// per-image noise maps, then the optimisation loop. Draws come from <see cref="SeededProjectorDraws"/> (one
/// generator per image, as StyleGAN2 projection draws), so a seed reproduces a result.
/// </summary>
public static class StyleGan1Projection
{
    /// <summary>projector.py's number of z samples for the latent statistics.</summary>
    public const int MeanLatentSamples = 10000;

    /// <summary>The projector's target side for a generator working at <paramref name="step"/> (4 * 2^step px, at most 256).</summary>
    public static int TargetResolution(int step) => ProjectionInput.Resolution(4 << step);

    /// <param name="targets">[B, 3, T, T] in [-1, 1] with T = <see cref="TargetResolution"/> (from <see cref="ProjectionInput"/>).</param>
    public static StyleGan1ProjectionResult Project(StyledGenerator g, Tensor targets, StyleGan1ProjectorOptions options, SeededProjectorDraws draws,
        Device device, IPerceptualLoss? perceptual = null, IProgress<(int Done, int Total)>? progress = null, CancellationToken ct = default)
    {
        int batch = (int)targets.shape[0];
        using var z = draws.MeanLatentZ(MeanLatentSamples, g.Config.CodeDim, device);
        var (mean, std) = StyleGan1Projector.LatentStats(g, z);
        using (mean)
        using (std)
        {
            var latent = mean.unsqueeze(0).repeat(batch, 1);
            var noises = draws.InitialNoise(options.Step, device);
            var onDevice = targets.to(device); // the caller's tensor itself when it is there already
            List<double> losses;
            try
            {
                losses = StyleGan1Projector.Optimize(g, onDevice, latent, noises, std, options, perceptual,
                    i => draws.LatentNoise(i, latent), progress, ct);
            }
            finally
            {
                if (!ReferenceEquals(onDevice, targets)) onDevice.Dispose();
            }
            Tensor image;
            using (no_grad())
                image = g.Forward([latent], new StyleGan1ForwardOptions { Step = options.Step, Noise = noises });
            return new StyleGan1ProjectionResult(latent, noises, image, losses);
        }
    }
}
