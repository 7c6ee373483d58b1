using SkiaSharp;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>Synthetic images (no fixtures needed): smooth gradients with a disc, encoded by Skia.</summary>
public static class TestImages
{
    public static byte[] Jpeg(int w = 320, int h = 240, int quality = 90) => Encode(w, h, SKEncodedImageFormat.Jpeg, quality);
    public static byte[] Png(int w = 320, int h = 240) => Encode(w, h, SKEncodedImageFormat.Png, 100);
    public static byte[] Webp(int w = 320, int h = 240) => Encode(w, h, SKEncodedImageFormat.Webp, 90);

    private static byte[] Encode(int w, int h, SKEncodedImageFormat format, int quality)
    {
        using var bmp = new SKBitmap(w, h, SKColorType.Rgba8888, SKAlphaType.Premul);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                bool disc = (x - w / 2) * (x - w / 2) + (y - h / 2) * (y - h / 2) < (h / 4) * (h / 4);
                bmp.SetPixel(x, y, disc ? new SKColor(230, 190, 160) : new SKColor((byte)(255 * x / w), (byte)(255 * y / h), 128));
            }
        using var img = SKImage.FromBitmap(bmp);
        using var data = img.Encode(format, quality);
        return data.ToArray();
    }

    /// <summary>A PNG whose IHDR claims <paramref name="w"/>x<paramref name="h"/> (CRC fixed), with a tiny real body.</summary>
    public static byte[] PngClaiming(int w, int h)
    {
        var png = Png(64, 64);
        // IHDR data starts at byte 16: width, height big-endian; CRC over type+data at 29..32.
        WriteBe(png, 16, w);
        WriteBe(png, 20, h);
        var crc = System.IO.Hashing.Crc32.HashToUInt32(png.AsSpan(12, 17));
        WriteBe(png, 29, unchecked((int)crc));
        return png;
    }

    private static void WriteBe(byte[] b, int at, int v)
    {
        b[at] = (byte)(v >> 24); b[at + 1] = (byte)(v >> 16); b[at + 2] = (byte)(v >> 8); b[at + 3] = (byte)v;
    }
}
