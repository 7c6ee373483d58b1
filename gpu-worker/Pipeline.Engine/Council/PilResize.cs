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
    public static RgbImage Bilinear(RgbImage src, int outWidth, int outHeight)
    {
        src.Validate();
        if (outWidth <= 0 || outHeight <= 0) throw new ArgumentOutOfRangeException(nameof(outWidth), "target size must be positive");
        var img = src;
        // PIL skips a pass whose axis keeps its size (that pass would be the identity anyway).
        if (outWidth != img.Width) img = Horizontal(img, outWidth);
        if (outHeight != img.Height) img = Vertical(img, outHeight);
        return ReferenceEquals(img, src) ? src with { Pixels = (byte[])src.Pixels.Clone() } : img;
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
        int c = src.Channels;
        var dst = new byte[cropWidth * cropHeight * c];
        for (int y = 0; y < cropHeight; y++)
            Array.Copy(src.Pixels, ((top + y) * src.Width + left) * c, dst, y * cropWidth * c, cropWidth * c);
        return new RgbImage(cropWidth, cropHeight, dst, c);
    }

    /// <summary>Resize(shorter side → size) then CenterCrop(cropHeight, cropWidth), as the reference's test transform.</summary>
    public static RgbImage ResizeAndCenterCrop(RgbImage src, int size, int cropWidth, int cropHeight)
    {
        var (w, h) = ShorterSideSize(src.Width, src.Height, size);
        return CenterCrop(Bilinear(src, w, h), cropWidth, cropHeight);
    }

    private readonly record struct Coeffs(int[] Min, int[] Count, int[] Weights, int KSize);

    private static Coeffs Precompute(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double filterScale = Math.Max(scale, 1.0);
        double support = 1.0 * filterScale; // bilinear's support is 1
        int ksize = (int)Math.Ceiling(support) * 2 + 1;
        var min = new int[outSize];
        var count = new int[outSize];
        var kk = new int[outSize * ksize];
        var k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++)
        {
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
                kk[xx * ksize + x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }
            min[xx] = xmin;
            count[xx] = xmax;
        }
        return new Coeffs(min, count, kk, ksize);
    }

    private static byte Clip8(int v) =>
        v >= 1 << PrecisionBits << 8 ? (byte)255 : v <= 0 ? (byte)0 : (byte)(v >> PrecisionBits);

    private static RgbImage Horizontal(RgbImage src, int outWidth)
    {
        var cf = Precompute(src.Width, outWidth);
        int c = src.Channels;
        var dst = new byte[outWidth * src.Height * c];
        for (int y = 0; y < src.Height; y++)
        {
            int rowIn = y * src.Width * c, rowOut = y * outWidth * c;
            for (int xx = 0; xx < outWidth; xx++)
            {
                int xmin = cf.Min[xx], n = cf.Count[xx], kOff = xx * cf.KSize;
                for (int ch = 0; ch < c; ch++)
                {
                    int ss = 1 << (PrecisionBits - 1);
                    for (int x = 0; x < n; x++) ss += src.Pixels[rowIn + (x + xmin) * c + ch] * cf.Weights[kOff + x];
                    dst[rowOut + xx * c + ch] = Clip8(ss);
                }
            }
        }
        return new RgbImage(outWidth, src.Height, dst, c);
    }

    private static RgbImage Vertical(RgbImage src, int outHeight)
    {
        var cf = Precompute(src.Height, outHeight);
        int c = src.Channels, stride = src.Width * c;
        var dst = new byte[src.Width * outHeight * c];
        for (int yy = 0; yy < outHeight; yy++)
        {
            int ymin = cf.Min[yy], n = cf.Count[yy], kOff = yy * cf.KSize;
            for (int i = 0; i < stride; i++)
            {
                int ss = 1 << (PrecisionBits - 1);
                for (int y = 0; y < n; y++) ss += src.Pixels[(y + ymin) * stride + i] * cf.Weights[kOff + y];
                dst[yy * stride + i] = Clip8(ss);
            }
        }
        return new RgbImage(src.Width, outHeight, dst, c);
    }
}
