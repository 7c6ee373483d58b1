namespace Pipeline.Imaging.Faces;

/// <summary>8-bit single-channel image (row-major), used by the detector.</summary>
internal sealed class GrayImage(int width, int height, byte[]? pixels = null)
{
    public int Width { get; } = width;
    public int Height { get; } = height;
    public byte[] Pixels { get; } = pixels ?? new byte[width * height];

    /// <summary>OpenCV's RGB→GRAY in 14-bit fixed point (0.299, 0.587, 0.114), so cascades see what they were trained on.</summary>
    public static GrayImage FromRgb(RgbImage rgb)
    {
        var g = new GrayImage(rgb.Width, rgb.Height);
        var s = rgb.Pixels;
        for (int i = 0; i < g.Pixels.Length; i++)
            g.Pixels[i] = (byte)((s[3 * i] * 4899 + s[3 * i + 1] * 9617 + s[3 * i + 2] * 1868 + (1 << 13)) >> 14);
        return g;
    }

    /// <summary>OpenCV equalizeHist: the lowest occupied level maps to 0, the cumulative histogram scales to 255.</summary>
    public GrayImage Equalize()
    {
        var hist = new int[256];
        foreach (var p in Pixels) hist[p]++;
        int total = Pixels.Length, i = 0;
        while (hist[i] == 0) i++;
        var lut = new byte[256];
        if (hist[i] == total)
        {
            Array.Fill(lut, (byte)i);
        }
        else
        {
            float scale = 255f / (total - hist[i]);
            int sum = 0;
            for (i++; i < 256; i++)
            {
                sum += hist[i];
                lut[i] = (byte)Math.Clamp((int)MathF.Round(sum * scale, MidpointRounding.ToEven), 0, 255);
            }
        }
        var dst = new GrayImage(Width, Height);
        for (int k = 0; k < Pixels.Length; k++) dst.Pixels[k] = lut[Pixels[k]];
        return dst;
    }

    /// <summary>Bilinear resize with pixel-centre alignment (OpenCV INTER_LINEAR geometry), rounded to 8 bits.</summary>
    public GrayImage ResizeBilinear(int w, int h)
    {
        var dst = new GrayImage(w, h);
        double sx = (double)Width / w, sy = (double)Height / h;
        var x0 = new int[w];
        var x1 = new int[w];
        var fx = new float[w];
        for (int x = 0; x < w; x++)
        {
            double f = (x + 0.5) * sx - 0.5;
            int i = (int)Math.Floor(f);
            float t = (float)(f - i);
            if (i < 0) { i = 0; t = 0; }
            if (i >= Width - 1) { i = Width - 1; t = 0; }
            x0[x] = i;
            x1[x] = Math.Min(i + 1, Width - 1);
            fx[x] = t;
        }
        for (int y = 0; y < h; y++)
        {
            double f = (y + 0.5) * sy - 0.5;
            int j = (int)Math.Floor(f);
            float u = (float)(f - j);
            if (j < 0) { j = 0; u = 0; }
            if (j >= Height - 1) { j = Height - 1; u = 0; }
            int r0 = j * Width, r1 = Math.Min(j + 1, Height - 1) * Width;
            for (int x = 0; x < w; x++)
            {
                float a = Pixels[r0 + x0[x]] + (Pixels[r0 + x1[x]] - Pixels[r0 + x0[x]]) * fx[x];
                float b = Pixels[r1 + x0[x]] + (Pixels[r1 + x1[x]] - Pixels[r1 + x0[x]]) * fx[x];
                dst.Pixels[y * w + x] = (byte)Math.Clamp((int)(a + (b - a) * u + 0.5f), 0, 255);
            }
        }
        return dst;
    }
}
