using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.Engine.Metrics.Fid;

/// <summary>Input handling of pytorch-fid: ToTensor, bilinear resize to 299 (no antialias), [0,1] -> [-1,1].</summary>
public static class FidPreprocess
{
    public const int InputSize = 299;

    /// <summary>torchvision ToTensor for a uint8 batch NHWC (or one HWC image): float32 NCHW, value / 255.</summary>
    public static Tensor ToTensor(Tensor u8)
    {
        if (u8.dtype != ScalarType.Byte) throw new ArgumentException($"expected uint8 pixels, got {u8.dtype}", nameof(u8));
        if (u8.dim() == 3) u8 = u8.unsqueeze(0);
        if (u8.dim() != 4 || u8.shape[3] != 3) throw new ArgumentException("expected NHWC or HWC RGB pixels", nameof(u8));
        return u8.permute(0, 3, 1, 2).to(ScalarType.Float32).div(255f);
    }

    /// <summary>F.interpolate(size=(299, 299), mode="bilinear", align_corners=False): aspect ratio not kept, aliasing kept.</summary>
    public static Tensor Resize299(Tensor x) =>
        x.shape[2] == InputSize && x.shape[3] == InputSize
            ? x
            : F.interpolate(x, [InputSize, InputSize], mode: InterpolationMode.Bilinear, align_corners: false);

    /// <summary>pytorch-fid normalize_input: 2x - 1.</summary>
    public static Tensor ZeroOneToSigned(Tensor x) => x.mul(2).sub(1);

    /// <summary>rosinality calc_inception.py: torchvision Normalize(0.5, 0.5) on the [0,1] tensor, before the resize.</summary>
    public static Tensor NormalizeHalf(Tensor x) => x.sub(0.5).div(0.5);

    /// <summary>
    /// Generator output (NCHW, nominally [-1, 1]) to uint8 NHWC as stylegan2-ada quantises before FID:
    /// (x * 127.5 + 128).clamp(0, 255) truncated. Real images are uint8 too, so both sides see the same quantisation.
    /// </summary>
    public static Tensor QuantizeSigned(Tensor x) =>
        (x * 127.5 + 128).clamp(0, 255).to(ScalarType.Byte).permute(0, 2, 3, 1).contiguous();

    /// <summary>The pytorch-fid order: resize first, then 2x - 1.</summary>
    public static Tensor PytorchFid(Tensor x01) => ZeroOneToSigned(Resize299(x01));
}
