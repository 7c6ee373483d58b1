using SkiaSharp;

namespace Pipeline.Imaging.Synthetic;

/// <summary>
/// Abstract brush-stroke compositions, deterministic by seed: the built-in "paintings" for the StyleGAN v1 gallery.
/// Each image has a two-colour ground from one palette and a few layers of thick, semi-transparent curved strokes,
/// so a small GAN has coarse structure (ground, palette) and fine structure (stroke edges) to learn at every level.
/// </summary>
public static class SyntheticPaintings
{
    /// <summary>One painting as RGB pixels (row-major, 3 bytes each), <paramref name="size"/> × <paramref name="size"/>.</summary>
    public static byte[] Draw(int seed, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 8);
        var r = new Random(seed);
        // One base hue per painting and analogous/complementary offsets: the set looks like a family of palettes.
        float hue = r.Next(360);
        float Offset() => hue + (r.NextDouble() < 0.3 ? 180 : 0) + (float)(r.NextDouble() * 60 - 30);
        var ground0 = SyntheticFaces.Hsv(Offset(), 0.2f + (float)r.NextDouble() * 0.4f, 0.3f + (float)r.NextDouble() * 0.6f);
        var ground1 = SyntheticFaces.Hsv(Offset(), 0.2f + (float)r.NextDouble() * 0.4f, 0.3f + (float)r.NextDouble() * 0.6f);

        using var bmp = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bmp);
        bool vertical = r.NextDouble() < 0.5;
        using (var shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), vertical ? new SKPoint(0, size) : new SKPoint(size, size),
                   [ground0, ground1], SKShaderTileMode.Clamp))
        using (var ground = new SKPaint { Shader = shader })
            canvas.DrawRect(0, 0, size, size, ground);

        int strokes = r.Next(6, 14);
        for (int i = 0; i < strokes; i++)
        {
            // Later strokes are thinner: broad blocking-in first, then detail, as a painter would layer them.
            float t = (float)i / strokes;
            float width = size * (0.18f - 0.12f * t) * (0.7f + (float)r.NextDouble() * 0.6f);
            var color = SyntheticFaces.Hsv(Offset(), 0.4f + (float)r.NextDouble() * 0.6f, 0.35f + (float)r.NextDouble() * 0.65f)
                .WithAlpha((byte)r.Next(150, 256));
            SKPoint P() => new((float)(r.NextDouble() * 1.2 - 0.1) * size, (float)(r.NextDouble() * 1.2 - 0.1) * size);
            using var builder = new SKPathBuilder();
            builder.MoveTo(P());
            builder.CubicTo(P(), P(), P());
            using var path = builder.Detach();
            using var paint = new SKPaint
            {
                Color = color, IsAntialias = true, Style = SKPaintStyle.Stroke, StrokeWidth = width,
                StrokeCap = SKStrokeCap.Round,
            };
            canvas.DrawPath(path, paint);
        }
        canvas.Flush();

        var rgba = bmp.Bytes;
        var rgb = new byte[size * size * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return rgb;
    }
}
