using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Pipeline.Imaging.Tests;

/// <summary>
/// A small PNG writer for the variants Skia cannot encode: 16-bit samples, palettes, grey+alpha and Adam7 interlacing.
/// Rows are stored with filter 0; <paramref name="samples"/> are per-pixel channel values (0..2^bitDepth−1).
/// </summary>
internal static class PngWriter
{
    public static byte[] Write(int w, int h, int colorType, int bitDepth, Func<int, int, int[]> samples, byte[]? palette = null, bool interlaced = false)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = (byte)bitDepth;
        ihdr[9] = (byte)colorType;
        ihdr[12] = (byte)(interlaced ? 1 : 0);
        Chunk(ms, "IHDR", ihdr);
        if (palette is not null) Chunk(ms, "PLTE", palette);
        var raw = new MemoryStream();
        if (!interlaced)
        {
            WritePass(raw, w, h, (x, y) => samples(x, y), bitDepth);
        }
        else
        {
            (int X0, int Y0, int Dx, int Dy)[] passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];
            foreach (var (x0, y0, dx, dy) in passes)
            {
                int pw = (w - x0 + dx - 1) / dx, ph = (h - y0 + dy - 1) / dy;
                if (pw <= 0 || ph <= 0) continue;
                WritePass(raw, pw, ph, (x, y) => samples(x0 + x * dx, y0 + y * dy), bitDepth);
            }
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) raw.WriteTo(zs);
        Chunk(ms, "IDAT", z.ToArray());
        Chunk(ms, "IEND", []);
        return ms.ToArray();
    }

    private static void WritePass(Stream raw, int w, int h, Func<int, int, int[]> samples, int bitDepth)
    {
        for (int y = 0; y < h; y++)
        {
            raw.WriteByte(0);
            for (int x = 0; x < w; x++)
                foreach (var v in samples(x, y))
                {
                    if (bitDepth == 16) { raw.WriteByte((byte)(v >> 8)); raw.WriteByte((byte)v); }
                    else raw.WriteByte((byte)v);
                }
        }
    }

    private static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> b4 = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(b4, data.Length);
        s.Write(b4);
        var typed = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        s.Write(typed);
        uint c = 0xFFFFFFFF;
        foreach (var b in typed)
        {
            c ^= b;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        BinaryPrimitives.WriteUInt32BigEndian(b4, ~c);
        s.Write(b4);
    }
}
