using Pipeline.Engine.Council;
using SkiaSharp;

namespace Pipeline.Worker.Cli.Council;

/// <summary>Image files for the translate command: decoding (as PIL's convert("RGB")), PNG writing, contact sheets.</summary>
internal static class CouncilImageIO
{
    /// <summary>Largest accepted input, against decompression bombs (the reference resizes to ~256 px anyway).</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"];

    /// <summary>The input images: one file, or every image under a folder (recursive) sorted by path like the reference.</summary>
    public static IReadOnlyList<string> Collect(string input)
    {
        if (File.Exists(input)) return [Path.GetFullPath(input)];
        if (!Directory.Exists(input)) throw new FileNotFoundException($"input not found: {input} (give an image file or a folder of images)");
        var files = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"no images ({string.Join(", ", Extensions)}) under {input}");
        return files;
    }

    public static RgbImage Decode(string path)
    {
        using var codec = SKCodec.Create(path) ?? throw new InvalidDataException($"{path}: not an image SkiaSharp can decode");
        return Decode(codec, path);
    }

    /// <summary>Decodes an uploaded image held in memory; <paramref name="name"/> is only for messages.</summary>
    public static RgbImage Decode(byte[] bytes, string name)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new InvalidDataException($"{name}: not an image SkiaSharp can decode");
        return Decode(codec, name);
    }

    private static RgbImage Decode(SKCodec codec, string path)
    {
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        if (w <= 0 || h <= 0 || (long)w * h > MaxPixels)
            throw new InvalidDataException($"{path}: {w}x{h} is outside the accepted size (at most {MaxPixels} pixels)");
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bmp = new SKBitmap(info);
        var result = codec.GetPixels(info, bmp.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new InvalidDataException($"{path}: decoding failed ({result})");
        var rgba = bmp.Bytes;
        var rgb = new byte[w * h * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return new RgbImage(w, h, rgb);
    }

    /// <summary>PNG bytes (the shared encoder of the worker's jobs).</summary>
    public static byte[] EncodePng(RgbImage img) => Pipeline.Worker.Jobs.Shared.Png.Encode(img);

    public static void WritePng(RgbImage img, string path)
    {
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, EncodePng(img));
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// A grid: one row per input (the input first, then its K outputs), 2 px gaps; cells smaller than
    /// <paramref name="minCell"/> are enlarged by an integer factor (nearest neighbour) so small models stay visible.
    /// </summary>
    public static RgbImage ContactSheet(IReadOnlyList<IReadOnlyList<RgbImage>> rows, int minCell = 128)
    {
        const int gap = 2;
        int native = rows.SelectMany(r => r).Max(i => Math.Max(i.Width, i.Height));
        int scale = Math.Max(1, minCell / native);
        if (scale > 1) rows = rows.Select(r => (IReadOnlyList<RgbImage>)r.Select(i => Enlarge(i, scale)).ToList()).ToList();
        int cell = native * scale;
        int cols = rows.Max(r => r.Count);
        int w = cols * cell + (cols + 1) * gap, h = rows.Count * cell + (rows.Count + 1) * gap;
        var px = new byte[w * h * 3];
        Array.Fill(px, (byte)255);
        for (int r = 0; r < rows.Count; r++)
            for (int c = 0; c < rows[r].Count; c++)
            {
                var img = rows[r][c];
                int x0 = gap + c * (cell + gap), y0 = gap + r * (cell + gap);
                for (int y = 0; y < img.Height; y++)
                    Array.Copy(img.Pixels, y * img.Width * 3, px, ((y0 + y) * w + x0) * 3, img.Width * 3);
            }
        return new RgbImage(w, h, px);
    }

    private static RgbImage Enlarge(RgbImage img, int f)
    {
        int w = img.Width * f, h = img.Height * f;
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                Array.Copy(img.Pixels, ((y / f) * img.Width + x / f) * 3, px, (y * w + x) * 3, 3);
        return new RgbImage(w, h, px);
    }
}
