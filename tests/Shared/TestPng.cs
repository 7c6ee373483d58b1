using System.Buffers.Binary;
using System.IO.Compression;

namespace Pipeline.Tests;

/// <summary>PNG bytes written sample by sample (exact ids, any bit depth), for label-map tests in every test project.</summary>
public static class TestPng
{
    /// <summary>
    /// Minimal PNG writer for label/instance maps: one IDAT, each row with the given filter type applied for real;
    /// <paramref name="color"/> is the IHDR color type (0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA). No CRCs.
    /// </summary>
    public static byte[] Write(int w, int h, int depth, int color, Func<int, int, int[]> pixel, byte filter = 0)
    {
        int channels = color switch { 0 or 3 => 1, 4 => 2, 2 => 3, _ => 4 };
        int stride = (w * channels * depth + 7) / 8, bpp = Math.Max(1, channels * depth / 8);
        var raw = new MemoryStream();
        var prev = new byte[stride];
        for (int y = 0; y < h; y++)
        {
            var row = new byte[stride];
            for (int x = 0; x < w; x++)
            {
                var px = pixel(x, y);
                for (int c = 0; c < channels; c++)
                {
                    int index = x * channels + c;
                    if (depth == 16) { row[2 * index] = (byte)(px[c] >> 8); row[2 * index + 1] = (byte)px[c]; }
                    else if (depth == 8) row[index] = (byte)px[c];
                    else row[index * depth / 8] |= (byte)(px[c] << (8 - depth - index * depth % 8));
                }
            }
            raw.WriteByte(filter);
            for (int i = 0; i < stride; i++)
            {
                int a = i >= bpp ? row[i - bpp] : 0, b = prev[i], cc = i >= bpp ? prev[i - bpp] : 0;
                int p = a + b - cc, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - cc);
                int pred = filter switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) >> 1, _ => pa <= pb && pa <= pc ? a : pb <= pc ? b : cc };
                raw.WriteByte((byte)(row[i] - pred));
            }
            prev = row;
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = (byte)depth; ihdr[9] = (byte)color;
        Chunk(png, "IHDR", ihdr);
        if (color == 3) Chunk(png, "PLTE", new byte[3 * (1 << depth)]);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream s, string type, byte[] body)
    {
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, body.Length);
        s.Write(len);
        s.Write(System.Text.Encoding.ASCII.GetBytes(type));
        s.Write(body);
        s.Write(new byte[4]); // CRC is not checked by the decoder
    }
}
