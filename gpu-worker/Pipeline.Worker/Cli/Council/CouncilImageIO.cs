using Pipeline.Imaging;

namespace Pipeline.Worker.Cli.Council;

/// <summary>Image files for the translate command: decoding (as PIL's convert("RGB")), PNG writing, contact sheets.</summary>
internal static class CouncilImageIO
{
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".webp", ".gif"];

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

    /// <summary>An input file through the pipeline's one decoder, as the reference reads it (PIL's convert("RGB")).</summary>
    public static RgbImage Decode(string path) => ImageDecoder.DecodeFile(path, RgbConversion.PilConvert);

    /// <summary>Decodes an uploaded image held in memory; <paramref name="name"/> is only for messages.</summary>
    public static RgbImage Decode(byte[] bytes, string name) => ImageDecoder.DecodeFile(bytes, name, RgbConversion.PilConvert);

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
