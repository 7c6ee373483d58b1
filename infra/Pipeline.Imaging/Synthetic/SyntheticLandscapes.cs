using SkiaSharp;

namespace Pipeline.Imaging.Synthetic;

/// <summary>
/// Procedural landscapes with their semantic label maps, deterministic by seed: the built-in data for
/// panoramas (StyleGAN2/SOAT) and for label-map -> image translation (pix2pixHD).
/// </summary>
public static class SyntheticLandscapes
{
    /// <summary>Label ids of <see cref="Draw"/>'s label map, in this order.</summary>
    public static IReadOnlyList<string> Labels { get; } = ["sky", "sun", "mountain", "water", "grass", "tree"];

    /// <summary>One landscape: RGB pixels (row-major, 3 bytes each) and a label id per pixel.</summary>
    public sealed record Scene(int Width, int Height, byte[] Rgb, byte[] Labels);

    public static Scene Draw(int seed, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 8);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 8);
        var r = new Random(seed);
        double horizon = 0.55 + r.NextDouble() * 0.15;
        double waterLine = horizon + 0.05 + r.NextDouble() * 0.1;
        bool hasWater = r.NextDouble() < 0.6;
        double sunX = r.NextDouble(), sunY = 0.12 + r.NextDouble() * 0.25, sunR = 0.05 + r.NextDouble() * 0.05;
        var (a1, f1, p1) = (0.08 + r.NextDouble() * 0.12, 2 + r.NextDouble() * 4, r.NextDouble() * 6.3);
        var (a2, f2, p2) = (0.03 + r.NextDouble() * 0.05, 7 + r.NextDouble() * 9, r.NextDouble() * 6.3);
        var trees = Enumerable.Range(0, r.Next(2, 7)).Select(_ => (X: r.NextDouble(), S: 0.04 + r.NextDouble() * 0.05)).ToArray();
        var skyTop = SyntheticFaces.Hsv(190 + r.Next(40), 0.6f, 0.85f);
        var skyBottom = SyntheticFaces.Hsv(20 + r.Next(30), 0.3f, 1f);
        var mountain = SyntheticFaces.Hsv(200 + r.Next(80), 0.25f, 0.35f + (float)r.NextDouble() * 0.2f);
        var grass = SyntheticFaces.Hsv(80 + r.Next(50), 0.55f, 0.45f + (float)r.NextDouble() * 0.2f);
        var noise = new Random(seed ^ 0x7a11);

        var rgb = new byte[width * height * 3];
        var labels = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            double v = (y + 0.5) / height;
            for (int x = 0; x < width; x++)
            {
                double u = (x + 0.5) / width;
                double ridge = horizon - a1 * (0.5 + 0.5 * Math.Sin(u * f1 + p1)) - a2 * Math.Sin(u * f2 + p2);
                int label;
                if (trees.Any(t => Math.Abs(u - t.X) < t.S * (1 - (horizon + 0.02 - v) / (3 * t.S)) && v < horizon + 0.02 && v > horizon - 3 * t.S)) label = 5;
                else if (v < ridge) label = (u - sunX) * (u - sunX) * (width * width) / (double)(height * height) + (v - sunY) * (v - sunY) < sunR * sunR ? 1 : 0;
                else if (v < horizon) label = 2;
                else label = hasWater && v < waterLine ? 3 : 4;
                labels[y * width + x] = (byte)label;
                var c = label switch
                {
                    0 => Lerp(skyTop, skyBottom, v / horizon),
                    1 => new SKColor(255, 240, 190),
                    2 => SyntheticFaces.Shade(mountain, (float)(0.8 + 0.4 * (v - ridge) / Math.Max(1e-3, horizon - ridge))),
                    3 => SyntheticFaces.Shade(Lerp(skyTop, skyBottom, 0.6), 0.75f + 0.1f * (float)Math.Sin(y * 1.7)),
                    4 => SyntheticFaces.Shade(grass, (float)(0.8 + 0.3 * (v - horizon) / (1 - horizon))),
                    _ => new SKColor(30, 80, 40),
                };
                float jitter = label is 2 or 4 or 5 ? 0.9f + 0.2f * (float)noise.NextDouble() : 1f;
                int o = (y * width + x) * 3;
                rgb[o] = (byte)Math.Clamp(c.Red * jitter, 0, 255);
                rgb[o + 1] = (byte)Math.Clamp(c.Green * jitter, 0, 255);
                rgb[o + 2] = (byte)Math.Clamp(c.Blue * jitter, 0, 255);
            }
        }
        return new Scene(width, height, rgb, labels);
    }

    /// <summary>PNG of the rendered landscape.</summary>
    public static byte[] ImagePng(Scene s) => EncodePng(s.Width, s.Height, (x, y) =>
    {
        int o = (y * s.Width + x) * 3;
        return new SKColor(s.Rgb[o], s.Rgb[o + 1], s.Rgb[o + 2]);
    }, SKColorType.Rgba8888);

    /// <summary>Single-channel (8-bit grey) PNG of the label map: pixel value = label id, as pix2pixHD expects.</summary>
    public static byte[] LabelPng(Scene s) => EncodePng(s.Width, s.Height, (x, y) =>
    {
        byte l = s.Labels[y * s.Width + x];
        return new SKColor(l, l, l);
    }, SKColorType.Gray8);

    private static byte[] EncodePng(int w, int h, Func<int, int, SKColor> pixel, SKColorType type)
    {
        using var bmp = new SKBitmap(new SKImageInfo(w, h, type, SKAlphaType.Opaque));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                bmp.SetPixel(x, y, pixel(x, y));
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static SKColor Lerp(SKColor a, SKColor b, double t)
    {
        t = Math.Clamp(t, 0, 1);
        return new SKColor((byte)(a.Red + (b.Red - a.Red) * t), (byte)(a.Green + (b.Green - a.Green) * t), (byte)(a.Blue + (b.Blue - a.Blue) * t));
    }
}
