namespace Pipeline.Engine.Pix2PixHD;

/// <summary>
/// Pillow's NEAREST and BICUBIC resampling, bit-exact (spec 10.4, 10.5), on planar images: <c>[channels][h*w]</c>.
/// Parity needs Pillow's exact index maps and fixed-point filter, which no imaging library here reproduces.
/// </summary>
public static class Resampling
{
    /// <summary>Source index per output index with Pillow's accumulated double coordinate (not a multiplication).</summary>
    public static int[] NearestIndices(int inSize, int outSize)
    {
        var idx = new int[outSize];
        double scale = (double)inSize / outSize, x = 0.5 * scale;
        for (int o = 0; o < outSize; o++)
        {
            idx[o] = Math.Min((int)x, inSize - 1);
            x += scale;
        }
        return idx;
    }

    /// <summary>NEAREST resize of a planar image of any element type (label ids, instance ids, bytes).</summary>
    public static T[][] Nearest<T>(T[][] planes, int w, int h, int outW, int outH)
    {
        if (outW == w && outH == h) return planes.Select(p => (T[])p.Clone()).ToArray();
        var xs = NearestIndices(w, outW);
        var ys = NearestIndices(h, outH);
        var result = new T[planes.Length][];
        for (int c = 0; c < planes.Length; c++)
        {
            var src = planes[c];
            var dst = result[c] = new T[outW * outH];
            for (int y = 0; y < outH; y++)
            {
                int row = ys[y] * w;
                for (int x = 0; x < outW; x++) dst[y * outW + x] = src[row + xs[x]];
            }
        }
        return result;
    }

    /// <summary>BICUBIC resize of 8-bit planes: horizontal pass (if the width changes) then vertical (if the height changes).</summary>
    public static byte[][] Bicubic(byte[][] planes, int w, int h, int outW, int outH)
    {
        var result = new byte[planes.Length][];
        for (int c = 0; c < planes.Length; c++)
        {
            var p = planes[c];
            int cw = w;
            if (outW != w) { p = Pass(p, w, h, outW, horizontal: true); cw = outW; }
            if (outH != h) p = Pass(p, cw, h, outH, horizontal: false);
            result[c] = p == planes[c] ? (byte[])p.Clone() : p;
        }
        return result;
    }

    private static byte[] Pass(byte[] src, int w, int h, int outSize, bool horizontal)
    {
        int inSize = horizontal ? w : h;
        var (bounds, kernels) = Coefficients(inSize, outSize);
        int ow = horizontal ? outSize : w, oh = horizontal ? h : outSize;
        var dst = new byte[ow * oh];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                int o = horizontal ? x : y;
                var (xmin, n) = bounds[o];
                var k = kernels[o];
                int acc = 1 << 21;
                for (int t = 0; t < n; t++)
                {
                    int s = xmin + t;
                    acc += src[horizontal ? y * w + s : s * w + x] * k[t];
                }
                dst[y * ow + x] = (byte)Math.Clamp(acc >> 22, 0, 255);
            }
        return dst;
    }

    private static double Cubic(double x)
    {
        const double a = -0.5;
        x = Math.Abs(x);
        if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
        if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
        return 0;
    }

    private static ((int Min, int Count)[] Bounds, int[][] Kernels) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize, filterscale = Math.Max(scale, 1.0), support = 2 * filterscale, ss = 1.0 / filterscale;
        var bounds = new (int, int)[outSize];
        var kernels = new int[outSize][];
        for (int xx = 0; xx < outSize; xx++)
        {
            double center = (xx + 0.5) * scale;
            int xmin = Math.Max((int)(center - support + 0.5), 0);
            int xmax = Math.Min((int)(center + support + 0.5), inSize);
            int n = xmax - xmin;
            var k = new double[n];
            double sum = 0;
            for (int t = 0; t < n; t++) sum += k[t] = Cubic((t + xmin - center + 0.5) * ss);
            var fixedK = new int[n];
            for (int t = 0; t < n; t++)
            {
                double v = sum != 0 ? k[t] / sum : 0;
                fixedK[t] = v >= 0 ? (int)(v * (1 << 22) + 0.5) : (int)(v * (1 << 22) - 0.5);
            }
            bounds[xx] = (xmin, n);
            kernels[xx] = fixedK;
        }
        return (bounds, kernels);
    }
}
