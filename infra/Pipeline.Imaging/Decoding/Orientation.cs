namespace Pipeline.Imaging;

/// <summary>EXIF orientation (1..8) applied to pixels, so everything downstream (faces, landmarks) works upright.</summary>
public static class Orientation
{
    /// <summary>True for 5..8, whose upright image swaps width and height.</summary>
    public static bool SwapsAxes(int exif) => exif is >= 5 and <= 8;

    /// <summary>The upright image for a stored image tagged with EXIF orientation <paramref name="exif"/>.</summary>
    public static RgbImage ToUpright(RgbImage stored, int exif)
    {
        if (exif is < 1 or > 8) exif = 1;
        if (exif == 1) return stored;
        int w = stored.Width, h = stored.Height;
        bool swap = SwapsAxes(exif);
        int ow = swap ? h : w, oh = swap ? w : h;
        var dst = new RgbImage(ow, oh);
        var s = stored.Pixels;
        var d = dst.Pixels;
        for (int y = 0; y < oh; y++)
        {
            for (int x = 0; x < ow; x++)
            {
                // Where upright pixel (x, y) lives in the stored image.
                (int sx, int sy) = exif switch
                {
                    2 => (w - 1 - x, y),
                    3 => (w - 1 - x, h - 1 - y),
                    4 => (x, h - 1 - y),
                    5 => (y, x),
                    6 => (y, h - 1 - x),
                    7 => (w - 1 - y, h - 1 - x),
                    _ => (w - 1 - y, x), // 8
                };
                int si = (sy * w + sx) * 3, di = (y * ow + x) * 3;
                d[di] = s[si];
                d[di + 1] = s[si + 1];
                d[di + 2] = s[si + 2];
            }
        }
        return dst;
    }

    /// <summary>The stored image that, tagged with <paramref name="exif"/>, displays as <paramref name="upright"/> (used to build test files).</summary>
    public static RgbImage FromUpright(RgbImage upright, int exif)
    {
        // 5 and 7 are their own inverses as are 1..4; 6 and 8 invert each other.
        int inverse = exif switch { 6 => 8, 8 => 6, _ => exif };
        return ToUpright(upright, inverse);
    }
}
