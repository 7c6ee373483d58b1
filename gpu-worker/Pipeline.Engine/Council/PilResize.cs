namespace Pipeline.Engine.Council;

/// <summary>An 8-bit interleaved image (row-major H×W×C, C = 3 for RGB) as the engine's IO boundary.</summary>
public sealed record RgbImage(int Width, int Height, byte[] Pixels, int Channels = 3)
{
    public RgbImage Validate()
    {
        if (Width <= 0 || Height <= 0 || Channels <= 0 || Pixels.Length != (long)Width * Height * Channels)
            throw new ArgumentException($"image buffer of {Pixels.Length} bytes does not hold {Width}x{Height}x{Channels}");
        return this;
    }
}

/// <summary>
/// PIL's antialiased bilinear resize, bit-exact: separable, horizontal pass first into an 8-bit intermediate,
/// coefficients normalised to sum 1 and rounded to 22-bit fixed point, integer accumulation with a half offset.
/// Plus torchvision's Resize(int) and CenterCrop geometry (truncated long side, round-half-even offsets).
/// </summary>
public static class PilResize
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>Resizes with PIL.Image.BILINEAR (what torchvision's Resize does to a PIL image).</summary>
    public static RgbImage Bilinear(RgbImage src, int outWidth, int outHeight) =>
        BilinearWindow(src, outWidth, outHeight, 0, 0, outWidth, outHeight);

    /// <summary>
    /// The window (left, top, width, height) of the resized image, computing only its pixels: each output pixel
    /// depends on the input alone, so this equals resizing fully and cropping, without the full-size buffer.
    /// </summary>
    public static RgbImage BilinearWindow(RgbImage src, int outWidth, int outHeight, int left, int top, int width, int height)
    {
        src.Validate();
        if (outWidth <= 0 || outHeight <= 0) throw new ArgumentOutOfRangeException(nameof(outWidth), "target size must be positive");
        if (left < 0 || top < 0 || width <= 0 || height <= 0 || left + width > outWidth || top + height > outHeight)
            throw new ArgumentOutOfRangeException(nameof(left), $"window {width}x{height}+{left}+{top} is outside {outWidth}x{outHeight}");
        var img = src;
        // PIL skips a pass whose axis keeps its size (that pass would be the identity anyway).
        img = outWidth != img.Width ? Horizontal(img, outWidth, left, width) : Crop(img, left, 0, width, img.Height);
        img = outHeight != src.Height ? Vertical(img, outHeight, top, height) : Crop(img, 0, top, width, height);
        return ReferenceEquals(img, src) ? src with { Pixels = (byte[])src.Pixels.Clone() } : img;
    }

    private static RgbImage Crop(RgbImage src, int left, int top, int width, int height)
    {
        if (left == 0 && top == 0 && width == src.Width && height == src.Height) return src;
        int c = src.Channels;
        var dst = new byte[width * height * c];
        for (int y = 0; y < height; y++)
            Array.Copy(src.Pixels, ((top + y) * src.Width + left) * c, dst, y * width * c, width * c);
        return new RgbImage(width, height, dst, c);
    }

    /// <summary>torchvision Resize(size): shorter side to <paramref name="size"/>, longer side int(size·long/short).</summary>
    public static (int Width, int Height) ShorterSideSize(int width, int height, int size)
    {
        if (width <= height) return (size, (int)((double)size * height / width));
        return ((int)((double)size * width / height), size);
    }

    /// <summary>torchvision CenterCrop offsets: int(round((in − out)/2)) with Python's round-half-to-even.</summary>
    public static (int Top, int Left) CenterCropOffsets(int width, int height, int cropWidth, int cropHeight) =>
        ((int)Math.Round((height - cropHeight) / 2.0, MidpointRounding.ToEven), (int)Math.Round((width - cropWidth) / 2.0, MidpointRounding.ToEven));

    /// <summary>Crops a window; the image must be at least the crop size (it is after a shorter-side resize).</summary>
    public static RgbImage CenterCrop(RgbImage src, int cropWidth, int cropHeight)
    {
        src.Validate();
        if (cropWidth > src.Width || cropHeight > src.Height)
            throw new ArgumentException($"cannot center-crop {cropWidth}x{cropHeight} from {src.Width}x{src.Height}");
        var (top, left) = CenterCropOffsets(src.Width, src.Height, cropWidth, cropHeight);
        var r = Crop(src, left, top, cropWidth, cropHeight);
        return ReferenceEquals(r, src) ? src with { Pixels = (byte[])src.Pixels.Clone() } : r;
    }

    /// <summary>Resize(shorter side → size) then CenterCrop(cropHeight, cropWidth), as the reference's test transform.</summary>
    public static RgbImage ResizeAndCenterCrop(RgbImage src, int size, int cropWidth, int cropHeight)
    {
        src.Validate();
        var (w, h) = ShorterSideSize(src.Width, src.Height, size);
        if (cropWidth > w || cropHeight > h)
            throw new ArgumentException($"cannot center-crop {cropWidth}x{cropHeight} from the resized {w}x{h}");
        var (top, left) = CenterCropOffsets(w, h, cropWidth, cropHeight);
        return BilinearWindow(src, w, h, left, top, cropWidth, cropHeight);
    }

    private readonly record struct Coeffs(int[] Min, int[] Count, int[] Weights, int KSize);

    /// <summary>PIL's precompute_coeffs for outputs [first, first + count) of a resize inSize → outSize.</summary>
    private static Coeffs Precompute(int inSize, int outSize, int first, int count)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = 1.0 * filterScale; // bilinear's support is 1
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var min = new int[count];
        var taps = new int[count];
        var kk = new int[count * ksize];
        var k = new double[ksize];
        for (int o = 0; o < count; o++)
        {
            int xx = first + o;
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale, ww = 0;
            int xmin = (int)(center - support + 0.5);
            if (xmin < 0) xmin = 0;
            int xmax = (int)(center + support + 0.5);
            if (xmax > inSize) xmax = inSize;
            xmax -= xmin;
            Array.Clear(k);
            for (int x = 0; x < xmax; x++)
            {
                double w = Math.Abs((x + xmin - center + 0.5) * ss);
                w = w < 1.0 ? 1.0 - w : 0.0;
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < xmax; x++)
            {
                double w = ww != 0 ? k[x] / ww : k[x];
                kk[o * ksize + x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }
            min[o] = xmin;
            taps[o] = xmax;
        }
        return new Coeffs(min, taps, kk, ksize);
    }

    private static byte Clip8(int v) =>
        v >= 1 << PrecisionBits << 8 ? (byte)255 : v <= 0 ? (byte)0 : (byte)(v >> PrecisionBits);

    /// <summary>Output columns [first, first + count) of a horizontal resize to <paramref name="outWidth"/>.</summary>
    private static RgbImage Horizontal(RgbImage src, int outWidth, int first, int count)
    {
        var cf = Precompute(src.Width, outWidth, first, count);
        int c = src.Channels;
        var dst = new byte[count * src.Height * c];
        for (int y = 0; y < src.Height; y++)
        {
            int rowIn = y * src.Width * c, rowOut = y * count * c;
            for (int o = 0; o < count; o++)
            {
                int xmin = cf.Min[o], n = cf.Count[o], kOff = o * cf.KSize;
                for (int ch = 0; ch < c; ch++)
                {
                    int ss = 1 << (PrecisionBits - 1);
                    for (int x = 0; x < n; x++) ss += src.Pixels[rowIn + (x + xmin) * c + ch] * cf.Weights[kOff + x];
                    dst[rowOut + o * c + ch] = Clip8(ss);
                }
            }
        }
        return new RgbImage(count, src.Height, dst, c);
    }

    /// <summary>Output rows [first, first + count) of a vertical resize to <paramref name="outHeight"/>.</summary>
    private static RgbImage Vertical(RgbImage src, int outHeight, int first, int count)
    {
        var cf = Precompute(src.Height, outHeight, first, count);
        int c = src.Channels, stride = src.Width * c;
        var dst = new byte[src.Width * count * c];
        for (int o = 0; o < count; o++)
        {
            int ymin = cf.Min[o], n = cf.Count[o], kOff = o * cf.KSize;
            for (int i = 0; i < stride; i++)
            {
                int ss = 1 << (PrecisionBits - 1);
                for (int y = 0; y < n; y++) ss += src.Pixels[(y + ymin) * stride + i] * cf.Weights[kOff + y];
                dst[o * stride + i] = Clip8(ss);
            }
        }
        return new RgbImage(src.Width, count, dst, c);
    }
}
