using System.Runtime.InteropServices;
using SkiaSharp;

namespace Pipeline.Imaging;

/// <summary>
/// An upright 8-bit RGB image in row-major interleaved order (R,G,B per pixel, no padding).
/// The one pixel type the imaging code exchanges: decoding produces it, faces consume it, the engine turns it into tensors.
/// </summary>
public sealed class RgbImage
{
    public int Width { get; }
    public int Height { get; }

    /// <summary>Interleaved RGB bytes, length Width·Height·3.</summary>
    public byte[] Pixels { get; }

    public RgbImage(int width, int height, byte[]? pixels = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        long n = (long)width * height * 3;
        if (n > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(width), $"{width}x{height} RGB does not fit one array.");
        pixels ??= new byte[n];
        if (pixels.Length != n) throw new ArgumentException($"Expected {n} bytes for {width}x{height} RGB, got {pixels.Length}.", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Stride => Width * 3;

    public (byte R, byte G, byte B) this[int x, int y]
    {
        get
        {
            int i = (y * Width + x) * 3;
            return (Pixels[i], Pixels[i + 1], Pixels[i + 2]);
        }
    }

    public RgbImage Clone() => new(Width, Height, (byte[])Pixels.Clone());

    /// <summary>Copy of the rectangle [x0,x1)×[y0,y1); the caller clamps.</summary>
    public RgbImage Crop(int x0, int y0, int x1, int y1)
    {
        if (x0 < 0 || y0 < 0 || x1 > Width || y1 > Height || x1 <= x0 || y1 <= y0)
            throw new ArgumentOutOfRangeException(nameof(x0), $"Crop ({x0},{y0},{x1},{y1}) outside {Width}x{Height}.");
        var dst = new RgbImage(x1 - x0, y1 - y0);
        int rowBytes = dst.Stride;
        for (int y = y0; y < y1; y++)
            Buffer.BlockCopy(Pixels, (y * Width + x0) * 3, dst.Pixels, (y - y0) * rowBytes, rowBytes);
        return dst;
    }

    /// <summary>
    /// Channel-planar floats (3·H·W, CHW order) mapped as v·scale + offset: scale 2/255, offset −1 gives the [−1, 1] range GANs use.
    /// </summary>
    public float[] ToPlanar(float scale = 2f / 255f, float offset = -1f)
    {
        int plane = Width * Height;
        var dst = new float[plane * 3];
        for (int i = 0; i < plane; i++)
        {
            dst[i] = Pixels[i * 3] * scale + offset;
            dst[plane + i] = Pixels[i * 3 + 1] * scale + offset;
            dst[2 * plane + i] = Pixels[i * 3 + 2] * scale + offset;
        }
        return dst;
    }

    /// <summary>Inverse of <see cref="ToPlanar"/>: rounds and clamps to 0..255.</summary>
    public static RgbImage FromPlanar(ReadOnlySpan<float> chw, int width, int height, float scale = 2f / 255f, float offset = -1f)
    {
        int plane = width * height;
        if (chw.Length != plane * 3) throw new ArgumentException($"Expected {plane * 3} floats for 3x{height}x{width}.", nameof(chw));
        var img = new RgbImage(width, height);
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < plane; i++)
                img.Pixels[i * 3 + c] = (byte)Math.Clamp(MathF.Round((chw[c * plane + i] - offset) / scale), 0f, 255f);
        return img;
    }

    /// <summary>PNG bytes (lossless; metadata-free by construction because it is encoded from pixels).</summary>
    public byte[] EncodePng() => Encode(SKEncodedImageFormat.Png, 100);

    public byte[] EncodeJpeg(int quality = 90) => Encode(SKEncodedImageFormat.Jpeg, quality);

    public byte[] EncodeWebp(int quality = 90) => Encode(SKEncodedImageFormat.Webp, quality);

    public byte[] Encode(SKEncodedImageFormat format, int quality)
    {
        using var bitmap = ToSKBitmap();
        using var data = bitmap.Encode(format, quality)
            ?? throw new InvalidOperationException($"Skia could not encode {Width}x{Height} as {format}.");
        return data.ToArray();
    }

    /// <summary>An opaque RGBA Skia bitmap with these pixels (caller disposes).</summary>
    public SKBitmap ToSKBitmap()
    {
        var bitmap = new SKBitmap(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var rgba = new byte[Width * Height * 4];
        for (int i = 0, j = 0; i < Pixels.Length; i += 3, j += 4)
        {
            rgba[j] = Pixels[i];
            rgba[j + 1] = Pixels[i + 1];
            rgba[j + 2] = Pixels[i + 2];
            rgba[j + 3] = 255;
        }
        Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        return bitmap;
    }

    /// <summary>RGB from RGBA ignoring alpha, as PIL's convert("RGB") does.</summary>
    public static RgbImage FromRgbaDroppingAlpha(ReadOnlySpan<byte> rgba, int width, int height)
    {
        var img = new RgbImage(width, height);
        var dst = img.Pixels;
        for (int i = 0, j = 0; j < dst.Length; i += 4, j += 3)
        {
            dst[j] = rgba[i];
            dst[j + 1] = rgba[i + 1];
            dst[j + 2] = rgba[i + 2];
        }
        return img;
    }

    /// <summary>
    /// RGB from unpremultiplied RGBA, compositing over white so transparent regions do not leak arbitrary colour.
    /// </summary>
    public static RgbImage FromRgba(ReadOnlySpan<byte> rgba, int width, int height)
    {
        var img = new RgbImage(width, height);
        var dst = img.Pixels;
        for (int i = 0, j = 0; j < dst.Length; i += 4, j += 3)
        {
            int a = rgba[i + 3];
            if (a == 255)
            {
                dst[j] = rgba[i];
                dst[j + 1] = rgba[i + 1];
                dst[j + 2] = rgba[i + 2];
            }
            else
            {
                int inv = 255 - a;
                dst[j] = (byte)((rgba[i] * a + 255 * inv + 127) / 255);
                dst[j + 1] = (byte)((rgba[i + 1] * a + 255 * inv + 127) / 255);
                dst[j + 2] = (byte)((rgba[i + 2] * a + 255 * inv + 127) / 255);
            }
        }
        return img;
    }
}
