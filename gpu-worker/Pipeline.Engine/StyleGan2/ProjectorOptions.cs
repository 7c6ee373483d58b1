using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>How the images of one batched projection interact.</summary>
public enum ProjectionCoupling
{
    /// <summary>
    /// Every image's loss terms and noise normalisation are computed on its own, so a batch gives the same result as
    /// projecting each image alone (with the same draws). The default for serving many uploads per GPU pass.
    /// </summary>
    Independent,
    /// <summary>projector.py exactly: MSE and the noise regulariser average over the whole batch, noise is normalised over the batch.</summary>
    Reference,
}

/// <summary>projector.py settings (defaults = the reference's command-line defaults).</summary>
public sealed record ProjectorOptions
{
    public int Steps { get; init; } = 1000;
    public double Lr { get; init; } = 0.1;
    /// <summary>Latent noise strength relative to latent_std at t = 0.</summary>
    public double Noise { get; init; } = 0.05;
    public double NoiseRamp { get; init; } = 0.75;
    public double NoiseRegularize { get; init; } = 1e5;
    /// <summary>Weight of the MSE term (reference default 0 with LPIPS; use 1 without a perceptual loss).</summary>
    public double MseWeight { get; init; }
    /// <summary>Optimise W+ ([N, n_latent, D]) instead of w ([N, D]).</summary>
    public bool WPlus { get; init; }
    public int NMeanLatent { get; init; } = 10000;
    /// <summary>get_lr ramps; projector.py never forwards its CLI flags, so these defaults always apply there.</summary>
    public double LrRampUp { get; init; } = 0.05;
    public double LrRampDown { get; init; } = 0.25;
    public ProjectionCoupling Coupling { get; init; } = ProjectionCoupling.Independent;
    /// <summary>Keep latent_in after every step in <see cref="ProjectionResult.LatentPath"/> (memory: steps x latent).</summary>
    public bool RecordLatentPath { get; init; }
}

/// <summary>The random draws of a projection, replaceable for reproducibility and parity checks.</summary>
public interface IProjectorDraws
{
    /// <summary>z [n, D] for the latent statistics.</summary>
    Tensor MeanLatentZ(int n, int styleDim, Device device);
    /// <summary>Initial noise maps [batch, 1, r, r] for every layer.</summary>
    IReadOnlyList<Tensor> InitialNoise(Generator g, int batch);
    /// <summary>Unit-normal draw shaped like the latent, for step <paramref name="step"/>.</summary>
    Tensor LatentNoise(int step, Tensor like);
}

/// <summary>Draws from torch's global generator (seeded when <paramref name="seed"/> is given).</summary>
public sealed class RandomProjectorDraws(long? seed = null) : IProjectorDraws
{
    private bool _seeded;

    private void Seed()
    {
        if (_seeded || seed is null) return;
        manual_seed(seed.Value);
        _seeded = true;
    }

    public Tensor MeanLatentZ(int n, int styleDim, Device device) { Seed(); return randn([n, styleDim], device: device); }

    public IReadOnlyList<Tensor> InitialNoise(Generator g, int batch) { Seed(); return g.MakeNoise(batch); }

    public Tensor LatentNoise(int step, Tensor like) => randn_like(like);
}

/// <summary>Per-step scalars (read back once, after the loop, to avoid a host sync per step).</summary>
public sealed record ProjectionStep(int Step, double Lr, double NoiseStrength, double Loss, double Mse, double NoiseReg, double Perceptual)
{
    /// <summary>
    /// Each image's own loss (independent coupling only; <see cref="Loss"/> is their sum): a batch of projections is
    /// one optimisation, but each image converges on its own, and its curve is what a reader compares.
    /// </summary>
    public IReadOnlyList<double>? ImageLosses { get; init; }
}

/// <summary>Projection output: one latent (w or W+) and one noise set per image, the reconstruction, the loss history.</summary>
public sealed record ProjectionResult(
    Tensor Latent,
    IReadOnlyList<Tensor> Noises,
    Tensor Image,
    Tensor LatentMean,
    double LatentStd,
    IReadOnlyList<ProjectionStep> History,
    IReadOnlyList<Tensor>? LatentPath);
