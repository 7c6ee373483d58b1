using System.Buffers.Binary;
using System.IO.Compression;

namespace Pipeline.Imaging.Labels;

/// <summary>The sample layout of a PNG (IHDR color type).</summary>
public enum PngColor { Gray = 0, Rgb = 2, Palette = 3, GrayAlpha = 4, Rgba = 6 }

/// <summary>A decoded PNG: raw samples (palette indices for palette images, full 16-bit values for 16-bit images).</summary>
public sealed record PngImage(int Width, int Height, int BitDepth, PngColor Color, int[][] Planes)
{
    /// <summary>True for images whose pixels are one number each (grayscale or palette indices): what label/instance maps are.</summary>
    public bool IsSingleChannel => Color is PngColor.Gray or PngColor.Palette;

    /// <summary>
    /// The stored 8-bit samples as RGB, exactly (gray repeated, alpha dropped, as PIL's convert("RGB")); for parity
    /// checks against references that read PNG photos with PIL. Palette and 16-bit images are refused.
    /// </summary>
    public RgbImage ToRgb()
    {
        if (BitDepth != 8 || Color == PngColor.Palette)
            throw new InvalidDataException($"expected an 8-bit gray or RGB PNG, got {BitDepth}-bit {Color}");
        var planes = Planes.Length >= 3 ? Planes : [Planes[0], Planes[0], Planes[0]];
        var rgb = new RgbImage(Width, Height);
        for (int i = 0; i < Width * Height; i++)
            for (int ch = 0; ch < 3; ch++) rgb.Pixels[i * 3 + ch] = (byte)planes[ch][i];
        return rgb;
    }
}

/// <summary>
/// A small, exact PNG decoder for label and instance maps (non-interlaced), torch-free so that upload validation and
/// the worker read maps the same way. Imaging libraries (Skia, <see cref="ImageDecoder"/>) convert 16-bit gray to
/// 8 bits and palettes to colours, which destroys instance ids and class ids; this keeps the stored numbers.
/// </summary>
public static class PngSamples
{
    private static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    /// <summary>Limit on decoded pixels (a PNG is tiny when compressed; this stops decompression bombs).</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    public static bool HasSignature(ReadOnlySpan<byte> data) => data.Length >= 8 && data[..8].SequenceEqual(Signature);

    /// <summary>Width and height from the IHDR header, without decoding (to refuse bombs before inflating).</summary>
    public static (int Width, int Height) ReadSize(byte[] data)
    {
        if (!HasSignature(data) || data.Length < 24 || System.Text.Encoding.ASCII.GetString(data, 12, 4) != "IHDR")
            throw new InvalidLabelMapException(LabelMapRejection.Malformed, "PNG does not start with an IHDR header");
        return (BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(20)));
    }

    public static PngImage Decode(byte[] data)
    {
        if (!HasSignature(data)) throw new InvalidLabelMapException(LabelMapRejection.NotPng, "not a PNG file (bad signature); label maps must be PNG");
        int pos = 8, width = 0, height = 0, depth = 0, color = -1, interlace = 0;
        using var idat = new MemoryStream();
        while (pos + 12 <= data.Length)
        {
            int len = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(pos));
            if (len < 0 || pos + 12L + len > data.Length) throw new InvalidLabelMapException(LabelMapRejection.Malformed, "PNG is truncated (chunk runs past the end of the file)");
            var type = System.Text.Encoding.ASCII.GetString(data, pos + 4, 4);
            var body = data.AsSpan(pos + 8, len);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(body);
                height = BinaryPrimitives.ReadInt32BigEndian(body[4..]);
                depth = body[8]; color = body[9]; interlace = body[12];
            }
            else if (type == "IDAT") idat.Write(body);
            else if (type == "IEND") break;
            pos += 12 + len;
        }
        if (width <= 0 || height <= 0) throw new InvalidLabelMapException(LabelMapRejection.Malformed, "PNG has no valid IHDR header");
        if ((long)width * height > MaxPixels) throw new InvalidLabelMapException(LabelMapRejection.TooLarge, $"PNG is {width}x{height}, above the {MaxPixels}-pixel limit");
        if (interlace != 0) throw new InvalidLabelMapException(LabelMapRejection.Malformed, "interlaced PNGs are not supported: save the map without interlacing");
        if (!Enum.IsDefined(typeof(PngColor), color)) throw new InvalidLabelMapException(LabelMapRejection.Malformed, $"PNG color type {color} is invalid");
        var pc = (PngColor)color;
        int channels = pc switch { PngColor.Gray or PngColor.Palette => 1, PngColor.GrayAlpha => 2, PngColor.Rgb => 3, _ => 4 };
        int bitsPerPixel = channels * depth;
        int stride = (width * bitsPerPixel + 7) / 8, bpp = Math.Max(1, bitsPerPixel / 8);
        var raw = new byte[(long)(stride + 1) * height];
        idat.Position = 0;
        using (var z = new ZLibStream(idat, CompressionMode.Decompress))
        {
            int read = 0;
            while (read < raw.Length)
            {
                int n = z.Read(raw, read, raw.Length - read);
                if (n == 0) throw new InvalidLabelMapException(LabelMapRejection.Malformed, "PNG image data is truncated");
                read += n;
            }
        }
        var planes = new int[channels][];
        for (int c = 0; c < channels; c++) planes[c] = new int[width * height];
        var prev = new byte[stride];
        var cur = new byte[stride];
        for (int y = 0; y < height; y++)
        {
            int off = y * (stride + 1);
            byte filter = raw[off];
            Array.Copy(raw, off + 1, cur, 0, stride);
            Unfilter(filter, cur, prev, bpp);
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                    planes[c][y * width + x] = Sample(cur, (x * channels + c), depth);
            (prev, cur) = (cur, prev);
        }
        return new PngImage(width, height, depth, pc, planes);
    }

    private static int Sample(byte[] row, int index, int depth) => depth switch
    {
        8 => row[index],
        16 => (row[2 * index] << 8) | row[2 * index + 1],
        _ => (row[index * depth / 8] >> (8 - depth - (index * depth % 8))) & ((1 << depth) - 1),
    };

    private static void Unfilter(byte filter, byte[] cur, byte[] prev, int bpp)
    {
        switch (filter)
        {
            case 0: break;
            case 1: for (int i = bpp; i < cur.Length; i++) cur[i] += cur[i - bpp]; break;
            case 2: for (int i = 0; i < cur.Length; i++) cur[i] += prev[i]; break;
            case 3:
                for (int i = 0; i < cur.Length; i++) cur[i] += (byte)(((i >= bpp ? cur[i - bpp] : 0) + prev[i]) >> 1);
                break;
            case 4:
                for (int i = 0; i < cur.Length; i++)
                {
                    int a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
                    int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pcc = Math.Abs(p - c);
                    cur[i] += (byte)(pa <= pb && pa <= pcc ? a : pb <= pcc ? b : c);
                }
                break;
            default: throw new InvalidLabelMapException(LabelMapRejection.Malformed, $"PNG uses unknown filter type {filter}");
        }
    }
}
