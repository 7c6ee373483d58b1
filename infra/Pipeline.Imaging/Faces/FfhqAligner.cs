namespace Pipeline.Imaging.Faces;

/// <summary>Intermediate numbers of one alignment, for logs, tests and the stored job record (eye/mouth fields are zero for the box fallback).</summary>
/// <param name="Quad">Final quad corners (TL, BL, BR, TR) in the coordinates of the image that was warped.</param>
/// <param name="SourceQuad">The quad in the input image's coordinates, before shrink/crop/pad.</param>
public sealed record FfhqGeometry(
    PointF2 EyeLeft, PointF2 EyeRight, PointF2 MouthAvg, PointF2 X, PointF2 Y, PointF2 Center, double QSize,
    PointF2[] SourceQuad, int Shrink, int ShrunkWidth, int ShrunkHeight, int Border, (int L, int T, int R, int B) Crop, bool Cropped,
    (int L, int T, int R, int B) RawPad, (int L, int T, int R, int B) Pad, bool Padded, int WarpedWidth, int WarpedHeight, PointF2[] Quad);

/// <summary>
/// NVIDIA's FFHQ alignment (ffhq-dataset download_ffhq.py, recreate_aligned_images) as specified in
/// docs/spec §6: an oriented square from eyes and mouth, optional shrink, crop, reflect padding blended with a blur and
/// the median, a bilinear quad warp to <c>transformSize</c>, then Pillow Lanczos to <c>outputSize</c>.
/// </summary>
public static class FfhqAligner
{
    /// <summary>Aligns using 68 iBUG landmarks in <paramref name="image"/> coordinates. Recommended transformSize = 4·outputSize.</summary>
    public static (RgbImage Aligned, FfhqGeometry Geometry) Align(RgbImage image, IReadOnlyList<PointF2> landmarks, int outputSize = 256, int? transformSize = null, bool enablePadding = true) =>
        Warp(image, Plan(image.Width, image.Height, landmarks, outputSize, transformSize, enablePadding), outputSize, transformSize);

    /// <summary>Executes a plan from <see cref="Plan"/> or <see cref="PlanQuad"/> on the image it was made for.</summary>
    public static (RgbImage Aligned, FfhqGeometry Geometry) Warp(RgbImage image, FfhqGeometry g, int outputSize, int? transformSize = null)
    {
        int T = transformSize ?? 4 * outputSize;
        var img = image;
        if (g.Shrink > 1)
            img = Resampler.Resize(img, g.ShrunkWidth, g.ShrunkHeight, ResampleFilter.Lanczos3);
        if (g.Cropped)
            img = img.Crop(g.Crop.L, g.Crop.T, g.Crop.R, g.Crop.B);
        if (g.Padded)
            img = PadBlend(img, g.Pad, g.QSize);
        var q = g.Quad;
        var warped = QuadTransform(img, [q[0].X, q[0].Y, q[1].X, q[1].Y, q[2].X, q[2].Y, q[3].X, q[3].Y], T);
        var aligned = outputSize < T ? Resampler.Resize(warped, outputSize, outputSize, ResampleFilter.Lanczos3) : warped;
        return (aligned, g);
    }

    /// <summary>The alignment's geometry only (no pixels): quad, shrink, crop, padding and the final quad.</summary>
    public static FfhqGeometry Plan(int width, int height, IReadOnlyList<PointF2> landmarks, int outputSize = 256, int? transformSize = null, bool enablePadding = true)
    {
        if (landmarks.Count != 68) throw new ArgumentException($"FFHQ alignment needs the 68 iBUG landmarks, got {landmarks.Count}.", nameof(landmarks));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputSize);

        // 1-3. Oriented crop rectangle from eyes and mouth.
        var eyeL = Mean(landmarks, 36, 42);
        var eyeR = Mean(landmarks, 42, 48);
        var eyeAvg = new PointF2((eyeL.X + eyeR.X) * 0.5, (eyeL.Y + eyeR.Y) * 0.5);
        var eyeToEye = new PointF2(eyeR.X - eyeL.X, eyeR.Y - eyeL.Y);
        var mouthAvg = new PointF2((landmarks[48].X + landmarks[54].X) * 0.5, (landmarks[48].Y + landmarks[54].Y) * 0.5);
        var eyeToMouth = new PointF2(mouthAvg.X - eyeAvg.X, mouthAvg.Y - eyeAvg.Y);
        double xx = eyeToEye.X + eyeToMouth.Y, xy = eyeToEye.Y - eyeToMouth.X; // eye_to_eye − rot90(eye_to_mouth)
        double xn = Math.Sqrt(xx * xx + xy * xy);
        double scale = Math.Max(Math.Sqrt(eyeToEye.X * eyeToEye.X + eyeToEye.Y * eyeToEye.Y) * 2.0, Math.Sqrt(eyeToMouth.X * eyeToMouth.X + eyeToMouth.Y * eyeToMouth.Y) * 1.8);
        if (xn == 0 || scale == 0) throw new ArgumentException("Degenerate landmarks: eyes and mouth coincide.", nameof(landmarks));
        xx = xx / xn * scale;
        xy = xy / xn * scale;
        double yx = -xy, yy = xx;
        var c = new PointF2(eyeAvg.X + eyeToMouth.X * 0.1, eyeAvg.Y + eyeToMouth.Y * 0.1);
        return PlanQuad(width, height, c, new PointF2(xx, xy), outputSize, enablePadding) with { EyeLeft = eyeL, EyeRight = eyeR, MouthAvg = mouthAvg };
    }

    /// <summary>
    /// The crop/pad/warp geometry for an oriented square centred at <paramref name="c"/> with half-axis <paramref name="x"/>
    /// (the other half-axis is x rotated by +90°). Used by the landmark path and by the detection-box fallback.
    /// </summary>
    public static FfhqGeometry PlanQuad(int width, int height, PointF2 c, PointF2 x, int outputSize, bool enablePadding = true)
    {
        int S = outputSize;
        double xx = x.X, xy = x.Y;
        double yx = -xy, yy = xx;
        var quad = new double[8]
        {
            c.X - xx - yx, c.Y - xy - yy,
            c.X - xx + yx, c.Y - xy + yy,
            c.X + xx + yx, c.Y + xy + yy,
            c.X + xx - yx, c.Y + xy - yy,
        };
        var sourceQuad = ToPoints(quad);
        double qsize = Math.Sqrt(xx * xx + xy * xy) * 2;

        // 4. Shrink very large faces first (cheaper, and Lanczos reduction keeps detail).
        int w = width, h = height;
        int shrink = (int)Math.Floor(qsize / S * 0.5);
        if (shrink > 1)
        {
            w = (int)Math.Round((double)width / shrink, MidpointRounding.ToEven);
            h = (int)Math.Round((double)height / shrink, MidpointRounding.ToEven);
            for (int i = 0; i < 8; i++) quad[i] /= shrink;
            qsize /= shrink;
        }
        int shrunkW = w, shrunkH = h;

        // 5. Crop to the quad plus a border.
        int border = Math.Max((int)Math.Round(qsize * 0.1, MidpointRounding.ToEven), 3);
        var (minX, minY, maxX, maxY) = Bounds(quad);
        var crop = (L: Math.Max(minX - border, 0), T: Math.Max(minY - border, 0), R: Math.Min(maxX + border, w), B: Math.Min(maxY + border, h));
        bool cropped = false;
        if (crop.R - crop.L < w || crop.B - crop.T < h)
        {
            if (crop.R <= crop.L || crop.B <= crop.T) throw new ArgumentException("The face quad lies outside the image.", nameof(c));
            w = crop.R - crop.L;
            h = crop.B - crop.T;
            for (int i = 0; i < 8; i += 2)
            {
                quad[i] -= crop.L;
                quad[i + 1] -= crop.T;
            }
            cropped = true;
        }

        // 6. Pad by reflection where the quad leaves the image (the blend itself happens in Align).
        (minX, minY, maxX, maxY) = Bounds(quad);
        var rawPad = (L: Math.Max(-minX + border, 0), T: Math.Max(-minY + border, 0), R: Math.Max(maxX - w + border, 0), B: Math.Max(maxY - h + border, 0));
        var pad = rawPad;
        bool padded = false;
        if (enablePadding && Math.Max(Math.Max(pad.L, pad.T), Math.Max(pad.R, pad.B)) > border - 4)
        {
            int p = (int)Math.Round(qsize * 0.3, MidpointRounding.ToEven);
            pad = (Math.Max(pad.L, p), Math.Max(pad.T, p), Math.Max(pad.R, p), Math.Max(pad.B, p));
            w += pad.L + pad.R;
            h += pad.T + pad.B;
            for (int i = 0; i < 8; i += 2)
            {
                quad[i] += pad.L;
                quad[i + 1] += pad.T;
            }
            padded = true;
        }
        return new FfhqGeometry(default, default, default, new PointF2(xx, xy), new PointF2(yx, yy), c, qsize, sourceQuad, shrink, shrunkW, shrunkH, border,
            crop, cropped, rawPad, pad, padded, w, h, ToPoints(quad));
    }

    private static PointF2 Mean(IReadOnlyList<PointF2> p, int from, int to)
    {
        double x = 0, y = 0;
        for (int i = from; i < to; i++)
        {
            x += p[i].X;
            y += p[i].Y;
        }
        return new PointF2(x / (to - from), y / (to - from));
    }

    private static PointF2[] ToPoints(double[] q) => [new(q[0], q[1]), new(q[2], q[3]), new(q[4], q[5]), new(q[6], q[7])];

    private static (int MinX, int MinY, int MaxX, int MaxY) Bounds(double[] q) => (
        (int)Math.Floor(Math.Min(Math.Min(q[0], q[2]), Math.Min(q[4], q[6]))),
        (int)Math.Floor(Math.Min(Math.Min(q[1], q[3]), Math.Min(q[5], q[7]))),
        (int)Math.Ceiling(Math.Max(Math.Max(q[0], q[2]), Math.Max(q[4], q[6]))),
        (int)Math.Ceiling(Math.Max(Math.Max(q[1], q[3]), Math.Max(q[5], q[7]))));

    /// <summary>numpy 'reflect' padding (edge not repeated), then the FFHQ blur/median blend, rounded half-to-even to 8 bits.</summary>
    internal static RgbImage PadBlend(RgbImage src, (int L, int T, int R, int B) pad, double qsize)
    {
        int w = src.Width + pad.L + pad.R, h = src.Height + pad.T + pad.B;
        var img = new float[(long)w * h * 3];
        for (int y = 0; y < h; y++)
        {
            int sy = Reflect(y - pad.T, src.Height);
            for (int x = 0; x < w; x++)
            {
                int sx = Reflect(x - pad.L, src.Width);
                int si = (sy * src.Width + sx) * 3, di = (y * w + x) * 3;
                img[di] = src.Pixels[si];
                img[di + 1] = src.Pixels[si + 1];
                img[di + 2] = src.Pixels[si + 2];
            }
        }
        double sigma = qsize * 0.02;
        var blurred = GaussianBlur(img, w, h, sigma);
        float pl = pad.L, pt = pad.T, pr = pad.R, pb = pad.B;
        var mask = new float[(long)w * h];
        for (int y = 0; y < h; y++)
        {
            float my = 1f - Math.Min(y / pt, (h - 1 - y) / pb);
            for (int x = 0; x < w; x++)
            {
                float mx = 1f - Math.Min(x / pl, (w - 1 - x) / pr);
                float m = Math.Max(mx, my);
                mask[(long)y * w + x] = m;
                float k = Math.Clamp(m * 3f + 1f, 0f, 1f);
                long i = ((long)y * w + x) * 3;
                for (int ch = 0; ch < 3; ch++) img[i + ch] += (blurred[i + ch] - img[i + ch]) * k;
            }
        }
        var median = new float[3];
        var channel = new float[(long)w * h];
        for (int ch = 0; ch < 3; ch++)
        {
            for (long i = 0; i < channel.LongLength; i++) channel[i] = img[i * 3 + ch];
            Array.Sort(channel);
            long n = channel.LongLength;
            median[ch] = n % 2 == 1 ? channel[n / 2] : (channel[n / 2 - 1] + channel[n / 2]) / 2f;
        }
        var dst = new RgbImage(w, h);
        for (long i = 0; i < mask.LongLength; i++)
        {
            float k = Math.Clamp(mask[i], 0f, 1f);
            for (int ch = 0; ch < 3; ch++)
            {
                float v = img[i * 3 + ch] + (median[ch] - img[i * 3 + ch]) * k;
                dst.Pixels[i * 3 + ch] = (byte)Math.Clamp(MathF.Round(v, MidpointRounding.ToEven), 0f, 255f);
            }
        }
        return dst;
    }

    /// <summary>numpy 'reflect': …c b | a b c… (period 2(n−1)).</summary>
    internal static int Reflect(int i, int n)
    {
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        i %= period;
        if (i < 0) i += period;
        return i < n ? i : period - i;
    }

    /// <summary>scipy.ndimage 'reflect': …b a | a b… (edge repeated, period 2n).</summary>
    internal static int ScipyReflect(int i, int n)
    {
        int period = 2 * n;
        i %= period;
        if (i < 0) i += period;
        return i < n ? i : period - 1 - i;
    }

    /// <summary>scipy gaussian_filter over rows then columns (sigma, 0 over channels), float32, truncate 4.0, mode 'reflect'.</summary>
    internal static float[] GaussianBlur(float[] img, int w, int h, double sigma)
    {
        int radius = (int)(4.0 * sigma + 0.5);
        var k = new double[2 * radius + 1];
        double sum = 0;
        for (int i = -radius; i <= radius; i++) sum += k[i + radius] = Math.Exp(-0.5 * i * i / (sigma * sigma));
        var kf = k.Select(v => (float)(v / sum)).ToArray();
        var tmp = new float[img.Length];
        // Axis 0 (along y).
        Parallel.For(0, h, y =>
        {
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < 3; ch++)
                {
                    double acc = 0;
                    for (int t = -radius; t <= radius; t++)
                        acc += kf[t + radius] * img[((long)ScipyReflect(y + t, h) * w + x) * 3 + ch];
                    tmp[((long)y * w + x) * 3 + ch] = (float)acc;
                }
        });
        var dst = new float[img.Length];
        // Axis 1 (along x).
        Parallel.For(0, h, y =>
        {
            long row = (long)y * w;
            for (int x = 0; x < w; x++)
                for (int ch = 0; ch < 3; ch++)
                {
                    double acc = 0;
                    for (int t = -radius; t <= radius; t++)
                        acc += kf[t + radius] * tmp[(row + ScipyReflect(x + t, w)) * 3 + ch];
                    dst[(row + x) * 3 + ch] = (float)acc;
                }
        });
        return dst;
    }

    /// <summary>
    /// Pillow Image.transform(QUAD, BILINEAR) with the script's quad + 0.5: affine coefficients in double, outside → black,
    /// neighbours clamped, result truncated to 8 bits (Pillow semantics, spec §6.1 step 7).
    /// </summary>
    internal static RgbImage QuadTransform(RgbImage src, double[] quad, int size)
    {
        double x0 = quad[0] + 0.5, y0 = quad[1] + 0.5;
        double swX = quad[2] + 0.5, swY = quad[3] + 0.5, seX = quad[4] + 0.5, seY = quad[5] + 0.5, neX = quad[6] + 0.5, neY = quad[7] + 0.5;
        double As = 1.0 / size, At = 1.0 / size;
        double a0 = x0, a1 = (neX - x0) * As, a2 = (swX - x0) * At, a3 = (seX - swX - neX + x0) * As * At;
        double a4 = y0, a5 = (neY - y0) * As, a6 = (swY - y0) * At, a7 = (seY - swY - neY + y0) * As * At;
        var dst = new RgbImage(size, size);
        int w = src.Width, h = src.Height;
        var s = src.Pixels;
        var d = dst.Pixels;
        Parallel.For(0, size, oy =>
        {
            double yy = oy + 0.5;
            for (int ox = 0; ox < size; ox++)
            {
                double xx = ox + 0.5;
                double xin = a0 + a1 * xx + a2 * yy + a3 * xx * yy;
                double yin = a4 + a5 * xx + a6 * yy + a7 * xx * yy;
                if (xin < 0 || xin >= w || yin < 0 || yin >= h) continue;
                xin -= 0.5;
                yin -= 0.5;
                int xi = (int)Math.Floor(xin), yi = (int)Math.Floor(yin);
                double dx = xin - xi, dy = yin - yi;
                int c0 = Math.Clamp(xi, 0, w - 1), c1 = Math.Clamp(xi + 1, 0, w - 1);
                int r0 = Math.Clamp(yi, 0, h - 1);
                bool hasR1 = yi + 1 >= 0 && yi + 1 < h;
                int di = (oy * size + ox) * 3;
                for (int ch = 0; ch < 3; ch++)
                {
                    double p00 = s[(r0 * w + c0) * 3 + ch], p01 = s[(r0 * w + c1) * 3 + ch];
                    double v1 = p00 + (p01 - p00) * dx;
                    double v2 = v1;
                    if (hasR1)
                    {
                        double p10 = s[((yi + 1) * w + c0) * 3 + ch], p11 = s[((yi + 1) * w + c1) * 3 + ch];
                        v2 = p10 + (p11 - p10) * dx;
                    }
                    double v = v1 + (v2 - v1) * dy;
                    d[di + ch] = (byte)Math.Clamp((int)v, 0, 255);
                }
            }
        });
        return dst;
    }
}
