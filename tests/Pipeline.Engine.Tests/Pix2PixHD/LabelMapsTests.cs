using System.Buffers.Binary;
using System.IO.Compression;
using Pipeline.Engine.Pix2PixHD;

namespace Pipeline.Engine.Tests.Pix2PixHD;

/// <summary>Label/instance map validation on PNG bytes written here with every filter type the decoder must undo.</summary>
public sealed class LabelMapsTests
{
    /// <summary>Minimal PNG writer: one IDAT, each row with the given filter type applied for real.</summary>
    internal static byte[] WritePng(int w, int h, int depth, PngColor color, Func<int, int, int[]> pixel, byte filter = 0)
    {
        int channels = color switch { PngColor.Gray or PngColor.Palette => 1, PngColor.GrayAlpha => 2, PngColor.Rgb => 3, _ => 4 };
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
        if (color == PngColor.Palette) Chunk(png, "PLTE", new byte[3 * (1 << depth)]);
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

    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)1)]
    [InlineData((byte)2)]
    [InlineData((byte)3)]
    [InlineData((byte)4)]
    public void AcceptsGrayLabelMapAndKeepsIds(byte filter)
    {
        var png = WritePng(7, 5, 8, PngColor.Gray, (x, y) => [(x * 3 + y) % 9], filter);
        var (map, info) = LabelMaps.ReadLabels(png, labelCount: 9);
        Assert.Equal((7, 5, 8), (info.Width, info.Height, info.MaxId));
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 7; x++) Assert.Equal((x * 3 + y) % 9, map.Planes[0][y * 7 + x]);
    }

    [Fact]
    public void AcceptsPaletteIndicesBelowEightBits()
    {
        var png = WritePng(9, 3, 4, PngColor.Palette, (x, y) => [(x + y) % 16], filter: 4);
        var (map, info) = LabelMaps.ReadLabels(png, labelCount: 16);
        Assert.Equal(10, map.Planes[0][2 * 9 + 8]);
        Assert.Equal(10, info.MaxId);
    }

    [Fact]
    public void RejectsIdsAtOrAboveLabelCount()
    {
        var png = WritePng(4, 4, 8, PngColor.Gray, (x, y) => [x == 3 && y == 3 ? 35 : 1]);
        var e = Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels(png, labelCount: 35));
        Assert.Equal(LabelMapRejection.IdOutOfRange, e.Reason);
        Assert.Contains("35", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsColourMaps()
    {
        var png = WritePng(4, 4, 8, PngColor.Rgb, (x, y) => [1, 2, 3]);
        Assert.Equal(LabelMapRejection.NotSingleChannel, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels(png, 35)).Reason);
    }

    [Fact]
    public void RejectsSixteenBitLabelMapsButKeepsSixteenBitInstanceIds()
    {
        var png = WritePng(3, 2, 16, PngColor.Gray, (x, y) => [26000 + x + 7 * y + 7001]);
        Assert.Equal(LabelMapRejection.UnsupportedBitDepth, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels(png, 35)).Reason);
        var inst = LabelMaps.ReadInstances(png);
        Assert.Equal(26000 + 2 + 7 + 7001, inst.Planes[0][5]);
    }

    [Fact]
    public void RejectsNonPngAndMismatchedInstanceMaps()
    {
        Assert.Equal(LabelMapRejection.NotPng, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels("GIF89a........"u8.ToArray(), 35)).Reason);
        var (_, info) = LabelMaps.ReadLabels(WritePng(4, 4, 8, PngColor.Gray, (_, _) => [0]), 35);
        var inst = WritePng(5, 4, 16, PngColor.Gray, (_, _) => [0]);
        Assert.Equal(LabelMapRejection.SizeMismatch, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadInstances(inst, info)).Reason);
    }

    [Fact]
    public void RejectsMapsAboveThePixelLimitBeforeDecoding()
    {
        var png = WritePng(64, 64, 8, PngColor.Gray, (_, _) => [0]);
        Assert.Equal(LabelMapRejection.TooLarge, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels(png, 35, maxPixels: 1000)).Reason);
    }
}
