using Pipeline.Imaging;

namespace Pipeline.Worker.Operations.Translation;

/// <summary>The contact sheet of Council translations (jobs' contact_sheet.png and the CLI's): inputs and their candidates.</summary>
public static class CouncilContactSheet
{
    /// <summary>
    /// A grid: one row per input (the input first, then its K outputs), 2 px gaps; cells smaller than
    /// <paramref name="minCell"/> are enlarged by an integer factor (nearest neighbour) so small models stay visible.
    /// </summary>
    public static RgbImage Render(IReadOnlyList<IReadOnlyList<RgbImage>> rows, int minCell = 128)
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
