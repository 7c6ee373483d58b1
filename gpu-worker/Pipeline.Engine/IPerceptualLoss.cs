using static TorchSharp.torch;

namespace Pipeline.Engine;

/// <summary>
/// A differentiable image distance (LPIPS in practice) that the StyleGAN2 projector can plug in.
/// Inputs are NCHW images in [-1, 1]; the result is one distance per batch item (shape [N]).
/// </summary>
public interface IPerceptualLoss
{
    Tensor Distance(Tensor a, Tensor b);
}
