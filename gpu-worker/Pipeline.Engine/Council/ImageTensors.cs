using Pipeline.Imaging;
using static TorchSharp.torch;

namespace Pipeline.Engine.Council;

/// <summary>How generator outputs in [-1, 1] become bytes.</summary>
public enum OutputMapping
{
    /// <summary>torchvision save_image(normalize=True): each image stretched by its own min and max, +0.5 rounding (the folder test).</summary>
    MinMax,

    /// <summary>Fixed (v+1)/2, then truncation to bytes as PIL's ToPILImage (the reference GUI).</summary>
    HalfRange,
}

/// <summary>Conversions between 8-bit images and the network's NCHW float tensors.</summary>
public static class ImageTensors
{
    /// <summary>ToTensor + Normalize(0.5, 0.5): (1, C, H, W) float32 in [-1, 1], on <paramref name="device"/>.</summary>
    public static Tensor ToInput(RgbImage image, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var t = tensor(image.Pixels, [image.Height, image.Width, 3], ScalarType.Byte)
            .permute(2, 0, 1).unsqueeze(0).to(ScalarType.Float32).div(255f).sub(0.5f).div(0.5f);
        return scope.MoveToOuter(device is null ? t.contiguous() : t.to(device).contiguous());
    }

    /// <summary>(N, C, H, W) float images → (N, H, W, C) uint8 with the chosen mapping; no host sync.</summary>
    public static Tensor ToBytes(Tensor images, OutputMapping mapping)
    {
        using var scope = NewDisposeScope();
        Tensor v;
        if (mapping == OutputMapping.MinMax)
        {
            // Per image: (x − min) / max(max − min, 1e-5), then floor(v·255 + 0.5) clamped, exactly save_image's order.
            var low = images.amin([1, 2, 3], keepdim: true);
            var high = images.amax([1, 2, 3], keepdim: true);
            v = images.sub(low).div((high - low).clamp_min(1e-5)).mul(255f).add(0.5f).clamp(0, 255);
        }
        else
        {
            v = images.add(1f).div(2f).mul(255f).clamp(0, 255);
        }
        return scope.MoveToOuter(v.to(ScalarType.Byte).permute(0, 2, 3, 1).contiguous());
    }

    /// <summary>(N, H, W, 3) uint8 tensor → N RGB images (copied to the host).</summary>
    public static RgbImage[] ToImages(Tensor bytesNhwc)
    {
        if (bytesNhwc.dtype != ScalarType.Byte || bytesNhwc.dim() != 4 || bytesNhwc.shape[3] != 3)
            throw new ArgumentException($"expected an (N, H, W, 3) uint8 tensor, got {bytesNhwc.dtype} [{string.Join(", ", bytesNhwc.shape)}]");
        using var cpu = bytesNhwc.cpu().contiguous();
        var all = cpu.data<byte>().ToArray();
        int n = (int)cpu.shape[0], h = (int)cpu.shape[1], w = (int)cpu.shape[2], c = (int)cpu.shape[3];
        int size = h * w * c;
        return Enumerable.Range(0, n).Select(i => new RgbImage(w, h, all.AsSpan(i * size, size).ToArray())).ToArray();
    }
}
