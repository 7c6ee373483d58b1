namespace Pipeline.Imaging;

/// <summary>
/// torchvision's Resize(int) and CenterCrop geometry on a PIL image (truncated long side, round-half-even offsets),
/// resampled by <see cref="Resampler"/> with Pillow's BILINEAR, bit-exact.
/// </summary>
public static class TorchvisionTransforms
{
    /// <summary>torchvision Resize(size): shorter side to <paramref name="size"/>, longer side int(size·long/short).</summary>
    public static (int Width, int Height) ShorterSideSize(int width, int height, int size)
    {
        if (width <= height) return (size, (int)((double)size * height / width));
        return ((int)((double)size * width / height), size);
    }

    /// <summary>torchvision CenterCrop offsets: int(round((in − out)/2)) with Python's round-half-to-even.</summary>
    public static (int Top, int Left) CenterCropOffsets(int width, int height, int cropWidth, int cropHeight) =>
        ((int)Math.Round((height - cropHeight) / 2.0, MidpointRounding.ToEven), (int)Math.Round((width - cropWidth) / 2.0, MidpointRounding.ToEven));

    /// <summary>Crops the centre window; the image must be at least the crop size (it is after a shorter-side resize).</summary>
    public static RgbImage CenterCrop(RgbImage src, int cropWidth, int cropHeight)
    {
        ArgumentNullException.ThrowIfNull(src);
        if (cropWidth > src.Width || cropHeight > src.Height)
            throw new ArgumentException($"cannot center-crop {cropWidth}x{cropHeight} from {src.Width}x{src.Height}");
        var (top, left) = CenterCropOffsets(src.Width, src.Height, cropWidth, cropHeight);
        return src.Crop(left, top, left + cropWidth, top + cropHeight);
    }

    /// <summary>Resize(shorter side → size) then CenterCrop(cropHeight, cropWidth), computing only the kept window.</summary>
    public static RgbImage ResizeAndCenterCrop(RgbImage src, int size, int cropWidth, int cropHeight)
    {
        ArgumentNullException.ThrowIfNull(src);
        var (w, h) = ShorterSideSize(src.Width, src.Height, size);
        if (cropWidth > w || cropHeight > h)
            throw new ArgumentException($"cannot center-crop {cropWidth}x{cropHeight} from the resized {w}x{h}");
        var (top, left) = CenterCropOffsets(w, h, cropWidth, cropHeight);
        return Resampler.ResizeWindow(src, w, h, left, top, cropWidth, cropHeight, ResampleFilter.Bilinear);
    }
}
