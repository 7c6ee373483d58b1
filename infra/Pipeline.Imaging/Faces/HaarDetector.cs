namespace Pipeline.Imaging.Faces;

/// <summary>Detection settings; defaults are OpenCV's detectMultiScale(gray_equalized, 1.1, 5, minSize 30) as measured in the spec.</summary>
public sealed record HaarOptions
{
    public double ScaleFactor { get; init; } = 1.1;
    public int MinNeighbors { get; init; } = 5;
    /// <summary>Smallest face side in pixels of the detection image.</summary>
    public int MinSize { get; init; } = 30;
    /// <summary>Images are reduced (area filter) to this long side before detection: cost, and cascades need no more for selfies.</summary>
    public int MaxDetectionSide { get; init; } = 800;
    /// <summary>Clusters are merged when corners differ by less than this fraction of the size (OpenCV groupRectangles eps).</summary>
    public double GroupEps { get; init; } = 0.2;
}

/// <summary>An axis-aligned rectangle in image pixels: [X, X+Width) × [Y, Y+Height).</summary>
public readonly record struct PixelRect(int X, int Y, int Width, int Height)
{
    public long Area => (long)Width * Height;
    public double CenterX => X + Width / 2.0;
    public double CenterY => Y + Height / 2.0;
}

/// <summary>
/// Viola–Jones evaluation of an OpenCV Haar cascade: equalised grey, an image pyramid (the window stays at the
/// cascade's size, the image shrinks), integral images, variance-normalised features, staged boosted trees, then
/// OpenCV's rectangle grouping. Not bit-exact with OpenCV (resize rounding differs) but the same algorithm.
/// </summary>
public sealed class HaarDetector(HaarCascade cascade, HaarOptions? options = null)
{
    private readonly HaarOptions _options = options ?? new HaarOptions();

    public HaarCascade Cascade { get; } = cascade;

    /// <summary>Grouped detections in <paramref name="image"/> coordinates with their neighbour counts.</summary>
    public IReadOnlyList<(PixelRect Box, int Neighbors)> Detect(RgbImage image)
    {
        double down = 1.0;
        var work = image;
        int longSide = Math.Max(image.Width, image.Height);
        if (longSide > _options.MaxDetectionSide)
        {
            down = (double)_options.MaxDetectionSide / longSide;
            work = Resampler.Resize(image, Math.Max(1, (int)Math.Round(image.Width * down)), Math.Max(1, (int)Math.Round(image.Height * down)), ResampleFilter.Box);
            down = (double)work.Width / image.Width;
        }
        var gray = GrayImage.FromRgb(work).Equalize();
        var raw = DetectRaw(gray);
        var grouped = Group(raw, _options.MinNeighbors, _options.GroupEps);
        if (down == 1.0) return grouped;
        return grouped.Select(g => (new PixelRect(
            (int)Math.Round(g.Box.X / down), (int)Math.Round(g.Box.Y / down),
            (int)Math.Round(g.Box.Width / down), (int)Math.Round(g.Box.Height / down)), g.Neighbors)).ToList();
    }

    internal List<PixelRect> DetectRaw(GrayImage gray)
    {
        int ww = Cascade.WindowWidth, wh = Cascade.WindowHeight;
        var scales = new List<double>();
        for (double f = 1; ; f *= _options.ScaleFactor)
        {
            int winW = (int)Math.Round(ww * f), winH = (int)Math.Round(wh * f);
            if (winW > gray.Width || winH > gray.Height) break;
            if (winW < _options.MinSize || winH < _options.MinSize) continue;
            scales.Add(f);
        }
        var perScale = new List<PixelRect>[scales.Count];
        Parallel.For(0, scales.Count, si => perScale[si] = DetectAtScale(gray, scales[si]));
        return perScale.SelectMany(l => l).ToList();
    }

    private List<PixelRect> DetectAtScale(GrayImage gray, double scale)
    {
        int ww = Cascade.WindowWidth, wh = Cascade.WindowHeight;
        int w = (int)Math.Round(gray.Width / scale), h = (int)Math.Round(gray.Height / scale);
        var found = new List<PixelRect>();
        if (w < ww || h < wh) return found;
        var img = scale == 1.0 ? gray : gray.ResizeBilinear(w, h);
        int iw = w + 1;
        var sum = new int[iw * (h + 1)];
        var sq = new long[iw * (h + 1)];
        for (int y = 0; y < h; y++)
        {
            int rowSum = 0;
            long rowSq = 0;
            for (int x = 0; x < w; x++)
            {
                int v = img.Pixels[y * w + x];
                rowSum += v;
                rowSq += v * v;
                sum[(y + 1) * iw + x + 1] = sum[y * iw + x + 1] + rowSum;
                sq[(y + 1) * iw + x + 1] = sq[y * iw + x + 1] + rowSq;
            }
        }

        var flat = FlatCascade.Build(Cascade, iw);
        // Variance is measured on the window minus a 1-pixel border, as OpenCV does.
        int n0 = 1 * iw + 1, n1 = 1 * iw + ww - 1, n2 = (wh - 1) * iw + 1, n3 = (wh - 1) * iw + ww - 1;
        double area = (ww - 2) * (wh - 2);
        int step = scale >= 2 ? 1 : 2;
        int winW = (int)Math.Round(ww * scale), winH = (int)Math.Round(wh * scale);

        for (int y = 0; y + wh <= h; y += step)
        {
            for (int x = 0; x + ww <= w; x += step)
            {
                int p = y * iw + x;
                int s = sum[p + n0] - sum[p + n1] - sum[p + n2] + sum[p + n3];
                long q2 = sq[p + n0] - sq[p + n1] - sq[p + n2] + sq[p + n3];
                double nf = area * q2 - (double)s * s;
                if (nf <= 0) continue;
                float norm = (float)(1.0 / Math.Sqrt(nf));
                if (area * norm >= 0.1) continue; // near-flat window (σ ≤ 10 grey levels): OpenCV skips it
                int result = flat.Evaluate(sum, p, norm);
                if (result > 0)
                    found.Add(new PixelRect((int)Math.Round(x * scale), (int)Math.Round(y * scale), winW, winH));
                else if (result == 0)
                    x += step; // rejected by the first stage: OpenCV skips the next position too
            }
        }
        return found;
    }

    /// <summary>OpenCV groupRectangles: cluster similar boxes, keep clusters with more than minNeighbors members, average them, drop boxes nested in stronger ones.</summary>
    internal static List<(PixelRect Box, int Neighbors)> Group(List<PixelRect> rects, int minNeighbors, double eps)
    {
        int n = rects.Count;
        var parent = Enumerable.Range(0, n).ToArray();
        int Find(int i)
        {
            while (parent[i] != i) i = parent[i] = parent[parent[i]];
            return i;
        }
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (Similar(rects[i], rects[j], eps)) parent[Find(i)] = Find(j);

        var clusters = new Dictionary<int, (long X, long Y, long W, long H, int N)>();
        for (int i = 0; i < n; i++)
        {
            int root = Find(i);
            var c = clusters.GetValueOrDefault(root);
            var r = rects[i];
            clusters[root] = (c.X + r.X, c.Y + r.Y, c.W + r.Width, c.H + r.Height, c.N + 1);
        }
        var avg = clusters.Values.Select(c =>
        {
            double s = 1.0 / c.N;
            return (Box: new PixelRect((int)Math.Round(c.X * s), (int)Math.Round(c.Y * s), (int)Math.Round(c.W * s), (int)Math.Round(c.H * s)), N: c.N);
        }).Where(c => c.N > minNeighbors).ToList();

        var kept = new List<(PixelRect, int)>();
        foreach (var (r1, n1) in avg)
        {
            bool nested = avg.Any(o =>
            {
                var (r2, n2) = o;
                if (r1 == r2) return false;
                int dx = (int)Math.Round(r2.Width * eps), dy = (int)Math.Round(r2.Height * eps);
                return r1.X >= r2.X - dx && r1.Y >= r2.Y - dy && r1.X + r1.Width <= r2.X + r2.Width + dx
                    && r1.Y + r1.Height <= r2.Y + r2.Height + dy && (n2 > Math.Max(3, n1) || n1 < 3);
            });
            if (!nested) kept.Add((r1, n1));
        }
        return kept;
    }

    private static bool Similar(PixelRect a, PixelRect b, double eps)
    {
        double delta = eps * (Math.Min(a.Width, b.Width) + Math.Min(a.Height, b.Height)) * 0.5;
        return Math.Abs(a.X - b.X) <= delta && Math.Abs(a.Y - b.Y) <= delta
            && Math.Abs(a.X + a.Width - b.X - b.Width) <= delta && Math.Abs(a.Y + a.Height - b.Y - b.Height) <= delta;
    }
}
