using System.Buffers.Binary;
using Pipeline.Tests;

namespace Pipeline.Imaging.Tests;

/// <summary>Synthetic images and hand-built files for decoder tests (no binaries are stored in the repo).</summary>
internal static class Synth
{
    /// <summary>Smooth, asymmetric content (gradients plus a low-frequency wave) so JPEG error stays small and flips are obvious.</summary>
    public static RgbImage Smooth(int w, int h, int seed = 0)
    {
        var img = new RgbImage(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int i = (y * w + x) * 3;
                img.Pixels[i] = (byte)(x * 255 / Math.Max(1, w - 1));
                img.Pixels[i + 1] = (byte)(y * 255 / Math.Max(1, h - 1));
                img.Pixels[i + 2] = (byte)(128 + 100 * Math.Sin((x + seed) / 7.0) * Math.Cos(y / 11.0));
            }
        return img;
    }

    /// <summary>A zone plate: frequency rising with radius, the classic aliasing probe.</summary>
    public static RgbImage ZonePlate(int w, int h)
    {
        var img = new RgbImage(w, h);
        double k = Math.PI / Math.Max(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double dx = x - w / 2.0, dy = y - h / 2.0;
                byte v = (byte)Math.Round(127.5 + 127.5 * Math.Cos(k * (dx * dx + dy * dy) / 2));
                int i = (y * w + x) * 3;
                img.Pixels[i] = img.Pixels[i + 1] = img.Pixels[i + 2] = v;
            }
        return img;
    }

    /// <summary>Inserts an EXIF APP1 segment carrying only the Orientation tag right after the JPEG SOI marker.</summary>
    public static byte[] WithExifOrientation(byte[] jpeg, int orientation)
    {
        var app1 = new byte[36];
        app1[0] = 0xFF; app1[1] = 0xE1;
        BinaryPrimitives.WriteUInt16BigEndian(app1.AsSpan(2), 34);
        "Exif\0\0"u8.CopyTo(app1.AsSpan(4));
        var tiff = app1.AsSpan(10);
        "MM"u8.CopyTo(tiff);
        BinaryPrimitives.WriteUInt16BigEndian(tiff[2..], 42);
        BinaryPrimitives.WriteUInt32BigEndian(tiff[4..], 8);
        BinaryPrimitives.WriteUInt16BigEndian(tiff[8..], 1);          // one IFD entry
        BinaryPrimitives.WriteUInt16BigEndian(tiff[10..], 0x0112);    // Orientation
        BinaryPrimitives.WriteUInt16BigEndian(tiff[12..], 3);         // SHORT
        BinaryPrimitives.WriteUInt32BigEndian(tiff[14..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(tiff[18..], (ushort)orientation);
        BinaryPrimitives.WriteUInt32BigEndian(tiff[22..], 0);         // no next IFD
        return [.. jpeg.AsSpan(0, 2), .. app1, .. jpeg.AsSpan(2)];
    }

    /// <summary>A PNG with a valid IHDR declaring w×h (RGB, 8-bit) followed by a tiny IDAT and IEND: the header-bomb shape.</summary>
    public static byte[] PngHeaderOnly(int w, int h)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 8; ihdr[9] = 2;
        WriteChunk(ms, "IHDR", ihdr);
        WriteChunk(ms, "IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01]);
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typed);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(typed));
        s.Write(len);
    }

    private static uint Crc32(byte[] data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var b in data)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    /// <summary>Patches the first SOF0/SOF2 frame header of a JPEG to declare w×h (the "82 KB JPEG, 1.6 GB buffer" bomb).</summary>
    public static byte[] JpegWithPatchedSof(byte[] jpeg, int w, int h)
    {
        var b = (byte[])jpeg.Clone();
        for (int i = 2; i + 9 < b.Length; i++)
        {
            if (b[i] == 0xFF && (b[i + 1] == 0xC0 || b[i + 1] == 0xC2))
            {
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(i + 5), (ushort)h);
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(i + 7), (ushort)w);
                return b;
            }
        }
        throw new InvalidOperationException("No SOF marker found.");
    }

    /// <summary>
    /// A grey-palette GIF with one frame per entry of <paramref name="frames"/> (each w·h palette indices). LZW is written
    /// uncompressed: 9-bit literal codes with a clear code every 250 pixels, so the code width never grows.
    /// </summary>
    public static byte[] Gif(int w, int h, params byte[][] frames)
    {
        using var ms = new MemoryStream();
        ms.Write("GIF89a"u8);
        ms.Write([(byte)w, (byte)(w >> 8), (byte)h, (byte)(h >> 8), 0xF7, 0, 0]);
        for (int i = 0; i < 256; i++) ms.Write([(byte)i, (byte)i, (byte)i]);
        foreach (var f in frames)
        {
            ms.Write([0x21, 0xF9, 4, 0, 10, 0, 0, 0]);
            ms.Write([0x2C, 0, 0, 0, 0, (byte)w, (byte)(w >> 8), (byte)h, (byte)(h >> 8), 0]);
            ms.WriteByte(8);
            var bits = new List<byte>();
            int acc = 0, n = 0;
            void Emit(int code)
            {
                acc |= code << n;
                n += 9;
                while (n >= 8) { bits.Add((byte)acc); acc >>= 8; n -= 8; }
            }
            for (int i = 0; i < f.Length; i++)
            {
                if (i % 250 == 0) Emit(256);
                Emit(f[i]);
            }
            Emit(257);
            if (n > 0) bits.Add((byte)acc);
            for (int i = 0; i < bits.Count; i += 255)
            {
                int len = Math.Min(255, bits.Count - i);
                ms.WriteByte((byte)len);
                ms.Write(bits.GetRange(i, len).ToArray());
            }
            ms.WriteByte(0);
        }
        ms.WriteByte(0x3B);
        return ms.ToArray();
    }

    /// <summary>A real photo from the shared fixtures, or a skip.</summary>
    public static byte[] FixturePhoto(string name) =>
        File.ReadAllBytes(Path.Combine(TestPaths.RequireFixtureDir("images"), name));

    public static double Psnr(RgbImage a, RgbImage b)
    {
        Assert.Equal(a.Width, b.Width);
        Assert.Equal(a.Height, b.Height);
        double se = 0;
        for (int i = 0; i < a.Pixels.Length; i++)
        {
            double d = a.Pixels[i] - b.Pixels[i];
            se += d * d;
        }
        double mse = se / a.Pixels.Length;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(255.0 * 255.0 / mse);
    }
}
