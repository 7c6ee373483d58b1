using SkiaSharp;

namespace Pipeline.Imaging.Synthetic;

/// <summary>The two domains of the built-in face data set.</summary>
public enum FaceStyle
{
    /// <summary>Shaded, textured, small eyes: stands in for selfies (and passes the Haar face check, as a selfie must).</summary>
    PhotoLike,
    /// <summary>Flat colours, dark outlines, large eyes: stands in for anime portraits.</summary>
    AnimeLike,
}

/// <summary>
/// Procedural portraits, deterministic by seed, so training, tests and the offline demo need no downloads.
/// Both styles share the face geometry drawn from the seed (pose, proportions, hair), which makes the two
/// domains a meaningful pair for unpaired translation.
/// </summary>
public static class SyntheticFaces
{
    /// <summary>Draws one square portrait as an opaque RGBA bitmap (caller disposes).</summary>
    public static SKBitmap Draw(int seed, FaceStyle style, int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 16);
        var g = new Geometry(new Random(seed));
        var bmp = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bmp);
        canvas.Scale(size / 256f);
        if (style == FaceStyle.PhotoLike) DrawPhoto(canvas, g, new Random(seed ^ 0x5eed));
        else DrawAnime(canvas, g);
        return bmp;
    }

    /// <summary>PNG bytes of <see cref="Draw"/>.</summary>
    public static byte[] DrawPng(int seed, FaceStyle style, int size)
    {
        using var bmp = Draw(seed, style, size);
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private sealed class Geometry
    {
        public Geometry(Random r)
        {
            Cx = 128 + (float)(r.NextDouble() - 0.5) * 20;
            Cy = 136 + (float)(r.NextDouble() - 0.5) * 14;
            Rx = 62 + (float)r.NextDouble() * 14;
            Ry = 80 + (float)r.NextDouble() * 12;
            EyeDx = 24 + (float)r.NextDouble() * 6;
            EyeY = -10 + (float)(r.NextDouble() - 0.5) * 8;
            MouthY = 42 + (float)r.NextDouble() * 8;
            Smile = (float)(r.NextDouble() * 2 - 0.6);
            Skin = Hsv(20 + r.Next(20), 0.25f + (float)r.NextDouble() * 0.35f, 0.55f + (float)r.NextDouble() * 0.4f);
            Hair = Hsv(r.Next(360), 0.2f + (float)r.NextDouble() * 0.7f, 0.15f + (float)r.NextDouble() * 0.7f);
            Iris = Hsv(r.Next(360), 0.5f + (float)r.NextDouble() * 0.5f, 0.4f + (float)r.NextDouble() * 0.5f);
            Background = Hsv(r.Next(360), 0.15f + (float)r.NextDouble() * 0.4f, 0.5f + (float)r.NextDouble() * 0.5f);
            HairLength = (float)r.NextDouble();
            Fringe = (float)r.NextDouble();
        }

        public float Cx, Cy, Rx, Ry, EyeDx, EyeY, MouthY, Smile, HairLength, Fringe;
        public SKColor Skin, Hair, Iris, Background;
    }

    private static void DrawPhoto(SKCanvas c, Geometry g, Random texture)
    {
        using (var bg = new SKPaint { Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(0, 256), [Shade(g.Background, 1.2f), Shade(g.Background, 0.7f)], SKShaderTileMode.Clamp) })
            c.DrawRect(0, 0, 256, 256, bg);
        DrawHairBack(c, g, Shade(g.Hair, 0.8f), null);
        using (var skin = new SKPaint { IsAntialias = true, Shader = SKShader.CreateRadialGradient(new SKPoint(g.Cx - g.Rx * 0.3f, g.Cy - g.Ry * 0.35f), g.Ry * 1.3f, [Shade(g.Skin, 1.15f), g.Skin, Shade(g.Skin, 0.6f)], [0, 0.55f, 1], SKShaderTileMode.Clamp) })
            c.DrawOval(g.Cx, g.Cy, g.Rx, g.Ry, skin);
        // Skin texture: faint speckles, so the "photo" domain has high-frequency content the anime one lacks.
        using (var speck = new SKPaint { IsAntialias = true })
            for (int i = 0; i < 400; i++)
            {
                double a = texture.NextDouble() * Math.PI * 2, rr = Math.Sqrt(texture.NextDouble());
                speck.Color = Shade(g.Skin, 0.85f + (float)texture.NextDouble() * 0.3f).WithAlpha(70);
                c.DrawCircle(g.Cx + (float)(Math.Cos(a) * rr * g.Rx * 0.9), g.Cy + (float)(Math.Sin(a) * rr * g.Ry * 0.9), 1.2f, speck);
            }
        // The photo style is drawn so that Haar frontal-face cascades (the upload face check) find it, as they find a
        // lit real face: bright cheekbones under a dark eye band, a bright nose bridge between dark eyes, dark
        // nostrils and a mouth as wide as the eyes are apart, and a forehead strip the fringe leaves uncovered.
        // Lit cheekbones: the band under the eyes is the brightest skin of a lit face, also on dark skin.
        foreach (var side in new[] { -1f, 1f })
        {
            var at = new SKPoint(g.Cx + side * g.EyeDx, g.Cy + g.EyeY + 24);
            using var cheek = new SKPaint { IsAntialias = true, Shader = SKShader.CreateRadialGradient(at, 22, [Shade(g.Skin, 1.35f).WithAlpha(170), Shade(g.Skin, 1.35f).WithAlpha(0)], SKShaderTileMode.Clamp) };
            c.DrawCircle(at, 22, cheek);
        }
        foreach (var side in new[] { -1f, 1f })
        {
            float ex = g.Cx + side * g.EyeDx, ey = g.Cy + g.EyeY;
            // Shaded eye sockets under the brow: real faces are darker across the eye band than on the cheeks and
            // the nose bridge, which is what frontal face detectors (Haar cascades) key on.
            using (var socket = new SKPaint { IsAntialias = true, Shader = SKShader.CreateRadialGradient(new SKPoint(ex, ey - 2), 22, [Shade(g.Skin, 0.35f).WithAlpha(255), Shade(g.Skin, 0.5f).WithAlpha(200), Shade(g.Skin, 0.7f).WithAlpha(0)], [0, 0.6f, 1], SKShaderTileMode.Clamp) })
                c.DrawOval(ex, ey - 2, 22, 15, socket);
            // Eye whites half-way to the skin tone and a dark upper lid: at detection scale an eye reads as a dark spot.
            using var white = new SKPaint { IsAntialias = true, Color = Mix(g.Skin, new SKColor(225, 220, 215), 0.5f) };
            c.DrawOval(ex, ey, 10, 5, white);
            using var iris = new SKPaint { IsAntialias = true, Color = Shade(g.Iris, 0.5f) };
            c.DrawCircle(ex, ey, 5, iris);
            using var pupil = new SKPaint { IsAntialias = true, Color = SKColors.Black };
            c.DrawCircle(ex, ey, 2.5f, pupil);
            using var lid = new SKPaint { IsAntialias = true, Color = new SKColor(40, 25, 20), StrokeWidth = 3, Style = SKPaintStyle.Stroke, StrokeCap = SKStrokeCap.Round };
            c.DrawArc(new SKRect(ex - 10, ey - 5, ex + 10, ey + 5), 180, 180, false, lid);
            using var brow = new SKPaint { IsAntialias = true, Color = Shade(g.Hair, 0.3f), StrokeWidth = 7, Style = SKPaintStyle.Stroke, StrokeCap = SKStrokeCap.Round };
            c.DrawLine(ex - 12, ey - 14, ex + 12, ey - 15 - side, brow);
        }
        using (var bridge = new SKPaint { IsAntialias = true, Color = Shade(g.Skin, 1.25f).WithAlpha(150) })
            c.DrawOval(g.Cx, g.Cy + g.EyeY + 2, 5, 16, bridge);
        using (var nose = new SKPaint { IsAntialias = true, Color = Shade(g.Skin, 0.7f).WithAlpha(160), StrokeWidth = 2.5f, Style = SKPaintStyle.Stroke, StrokeCap = SKStrokeCap.Round })
            c.DrawLine(g.Cx + 2, g.Cy + 4, g.Cx - 4, g.Cy + 24, nose);
        using (var nostril = new SKPaint { IsAntialias = true, Color = Shade(g.Skin, 0.4f) })
            foreach (var side in new[] { -1f, 1f }) c.DrawOval(g.Cx + side * 6, g.Cy + 26, 3.5f, 2f, nostril);
        DrawMouth(c, g, new SKColor(110, 45, 45), 5f, 20);
        // A fringe down to the brows hides the forehead/eye-band contrast the cascade needs: stop its tips above them.
        DrawFringe(c, g, g.Hair, null, lowestTip: g.Cy + g.EyeY - 26);
    }

    private static void DrawAnime(SKCanvas c, Geometry g)
    {
        c.Clear(Shade(g.Background, 1.25f));
        using var outline = new SKPaint { IsAntialias = true, Color = new SKColor(30, 20, 25), Style = SKPaintStyle.Stroke, StrokeWidth = 3 };
        DrawHairBack(c, g, g.Hair, outline);
        using (var skin = new SKPaint { IsAntialias = true, Color = Shade(g.Skin, 1.3f) })
        {
            using var cb = new SKPathBuilder();
            cb.MoveTo(g.Cx - g.Rx, g.Cy - g.Ry * 0.2f);
            cb.QuadTo(g.Cx - g.Rx * 0.8f, g.Cy + g.Ry * 0.7f, g.Cx, g.Cy + g.Ry);
            cb.QuadTo(g.Cx + g.Rx * 0.8f, g.Cy + g.Ry * 0.7f, g.Cx + g.Rx, g.Cy - g.Ry * 0.2f);
            cb.ArcTo(new SKRect(g.Cx - g.Rx, g.Cy - g.Ry, g.Cx + g.Rx, g.Cy + g.Ry * 0.6f), 0, -180, false);
            cb.Close();
            using var chin = cb.Detach();
            c.DrawPath(chin, skin);
            c.DrawPath(chin, outline);
        }
        foreach (var side in new[] { -1f, 1f })
        {
            float ex = g.Cx + side * (g.EyeDx + 3), ey = g.Cy + g.EyeY + 6;
            using var white = new SKPaint { IsAntialias = true, Color = SKColors.White };
            c.DrawOval(ex, ey, 14, 18, white);
            using var iris = new SKPaint { IsAntialias = true, Color = g.Iris };
            c.DrawOval(ex, ey + 3, 10, 14, iris);
            using var pupil = new SKPaint { IsAntialias = true, Color = Shade(g.Iris, 0.3f) };
            c.DrawOval(ex, ey + 4, 5, 8, pupil);
            using var shine = new SKPaint { IsAntialias = true, Color = SKColors.White };
            c.DrawCircle(ex - 4, ey - 3, 3.5f, shine);
            c.DrawOval(ex, ey, 14, 18, outline);
            using var lash = new SKPaint { IsAntialias = true, Color = outline.Color, StrokeWidth = 5, Style = SKPaintStyle.Stroke, StrokeCap = SKStrokeCap.Round };
            c.DrawLine(ex - 15, ey - 16, ex + 15, ey - 19, lash);
        }
        DrawMouth(c, g, new SKColor(120, 40, 50), 2.5f);
        DrawFringe(c, g, g.Hair, outline);
    }

    private static void DrawMouth(SKCanvas c, Geometry g, SKColor color, float width, float half = 14)
    {
        using var mouth = new SKPaint { IsAntialias = true, Color = color, StrokeWidth = width, Style = SKPaintStyle.Stroke, StrokeCap = SKStrokeCap.Round };
        using var b = new SKPathBuilder();
        float y = g.Cy + g.MouthY;
        b.MoveTo(g.Cx - half, y);
        b.QuadTo(g.Cx, y + g.Smile * 8, g.Cx + half, y);
        using var p = b.Detach();
        c.DrawPath(p, mouth);
    }

    private static void DrawHairBack(SKCanvas c, Geometry g, SKColor color, SKPaint? outline)
    {
        using var hair = new SKPaint { IsAntialias = true, Color = color };
        var rect = new SKRect(g.Cx - g.Rx * 1.2f, g.Cy - g.Ry * 1.15f, g.Cx + g.Rx * 1.2f, g.Cy + g.Ry * (0.2f + g.HairLength * 0.9f));
        c.DrawRoundRect(rect, g.Rx, g.Rx, hair);
        if (outline is not null) c.DrawRoundRect(rect, g.Rx, g.Rx, outline);
    }

    private static void DrawFringe(SKCanvas c, Geometry g, SKColor color, SKPaint? outline, float lowestTip = float.MaxValue)
    {
        using var hair = new SKPaint { IsAntialias = true, Color = color };
        using var b = new SKPathBuilder();
        b.MoveTo(g.Cx - g.Rx * 1.05f, g.Cy - g.Ry * 0.1f);
        b.ArcTo(new SKRect(g.Cx - g.Rx * 1.1f, g.Cy - g.Ry * 1.1f, g.Cx + g.Rx * 1.1f, g.Cy + g.Ry * 0.4f), 180, 180, false);
        int spikes = 5;
        for (int i = spikes; i >= 0; i--)
        {
            float x = g.Cx - g.Rx + 2 * g.Rx * i / spikes;
            float y = g.Cy - g.Ry * (0.45f - 0.25f * g.Fringe) + (i % 2 == 0 ? -12 : 10);
            b.LineTo(x, Math.Min(y, lowestTip));
        }
        b.Close();
        using var p = b.Detach();
        c.DrawPath(p, hair);
        if (outline is not null) c.DrawPath(p, outline);
    }

    private static SKColor Mix(SKColor a, SKColor b, float t) =>
        new((byte)(a.Red + (b.Red - a.Red) * t), (byte)(a.Green + (b.Green - a.Green) * t), (byte)(a.Blue + (b.Blue - a.Blue) * t), 255);

    internal static SKColor Hsv(float h, float s, float v) => SKColor.FromHsv(h % 360, Math.Clamp(s, 0, 1) * 100, Math.Clamp(v, 0, 1) * 100);

    internal static SKColor Shade(SKColor c, float f) =>
        new((byte)Math.Clamp(c.Red * f, 0, 255), (byte)Math.Clamp(c.Green * f, 0, 255), (byte)Math.Clamp(c.Blue * f, 0, 255), c.Alpha);
}
