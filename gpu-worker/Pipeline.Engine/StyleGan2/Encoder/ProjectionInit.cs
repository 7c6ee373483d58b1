using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2.Encoder;

/// <summary>Where a projection starts: the mean latent (projector.py) or an encoder's one-pass W+ prediction.</summary>
public enum ProjectionInit
{
    Mean,
    Encoder,
}

public static class ProjectionInits
{
    /// <summary>Steps when the caller gives none: the encoder start is already close, so 100 steps replace 1000.</summary>
    public static int DefaultSteps(ProjectionInit init) => init == ProjectionInit.Encoder ? 100 : 1000;

    /// <summary>
    /// Latent-noise strength at t = 0 when the caller gives none: projector.py's 0.05 from the mean latent, where the
    /// noise explores away from the average image; 0 from the encoder, whose start that noise only throws away.
    /// Measured with `pipeline bench project-init` (docs/stylegan2.md), 100 encoder-start steps at lr 0.1 on the 50
    /// held-out images: MSE 0.00026 with noise 0.05, 0.000075 without.
    /// </summary>
    public static double DefaultNoise(ProjectionInit init) => init == ProjectionInit.Encoder ? 0 : 0.05;

    /// <summary>
    /// "encoder", "mean", or null/"auto" (the encoder when the model has one). Asking for the encoder of a model
    /// without one is an error rather than a silent fall-back, so a result never claims an init it did not use.
    /// </summary>
    public static ProjectionInit Resolve(string? text, bool encoderAvailable) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => encoderAvailable ? ProjectionInit.Encoder : ProjectionInit.Mean,
        "mean" => ProjectionInit.Mean,
        "encoder" => encoderAvailable ? ProjectionInit.Encoder
            : throw new ArgumentException("init 'encoder' was asked for, but the model has no encoder (<model>.encoder.pt next to the generator)"),
        _ => throw new ArgumentException($"init must be encoder, mean or auto, not '{text}'"),
    };

    /// <summary>
    /// The encoder's W+ for <paramref name="targets"/> [N, 3, R, R] in [-1, 1], on the targets' device. Locked
    /// because modules are not re-entrant and one encoder serves concurrent jobs.
    /// </summary>
    public static Tensor Encode(StyleEncoder encoder, Tensor targets)
    {
        using var _ = no_grad();
        lock (encoder)
        {
            var dev = encoder.LatentAvg.device;
            return encoder.forward(targets.to(float32, dev)).to(targets.device);
        }
    }
}
