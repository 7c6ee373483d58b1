using Pipeline.Imaging;
using Pipeline.Imaging.Labels;
using static TorchSharp.torch;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>Where the test-time transform resizes and crops one item (shared by its label, instance and photo maps).</summary>
public sealed record TransformPlan(int? ResizeW, int? ResizeH, int? CropX, int? CropY, int? CropSize, int SizeBase, bool MakeMultiple);

/// <summary>
/// The reference's test-time data transforms (spec 10.3): resize step (square or scale_width), crop step,
/// `none` rounding to multiples of the generator's size base; NEAREST for label/instance maps, BICUBIC for photos;
/// plus ToTensor/normalise and tensor2im.
/// </summary>
public static class Preprocess
{
    /// <summary>
    /// The plan for an image of <paramref name="w"/>x<paramref name="h"/>. The crop position is drawn like the reference
    /// (uniform over the valid range) from <paramref name="rng"/> unless <paramref name="cropPos"/> fixes it.
    /// </summary>
    public static TransformPlan Plan(Pix2PixHDOptions o, int w, int h, int sizeBase, (int X, int Y)? cropPos = null, Random? rng = null)
    {
        string mode = o.ResizeOrCrop;
        int? rw = null, rh = null;
        int newW = w, newH = h;
        if (mode.Contains("resize", StringComparison.Ordinal)) { rw = rh = o.LoadSize; newW = newH = o.LoadSize; }
        else if (mode.Contains("scale_width", StringComparison.Ordinal))
        {
            // The crop range uses loadSize*H // W (integers), which can differ by one from the resized height (quirk Q16).
            newW = o.LoadSize; newH = (int)((long)o.LoadSize * h / w);
            if (w != o.LoadSize) { rw = o.LoadSize; rh = (int)(o.LoadSize * (double)h / w); }
        }
        int? cx = null, cy = null, cs = null;
        if (mode.Contains("crop", StringComparison.Ordinal))
        {
            var pos = cropPos ?? ((rng ?? Random.Shared).Next(0, Math.Max(0, newW - o.FineSize) + 1), (rng ?? Random.Shared).Next(0, Math.Max(0, newH - o.FineSize) + 1));
            (cx, cy, cs) = (pos.X, pos.Y, o.FineSize);
        }
        return new TransformPlan(rw, rh, cx, cy, cs, sizeBase, mode == "none");
    }

    /// <summary>Applies the plan to a label or instance map: NEAREST, so ids are never blended.</summary>
    public static IdMap Apply(IdMap map, TransformPlan plan) =>
        Apply(map, plan, m => (m.Width, m.Height), Resampler.Nearest,
            (m, x, y, size) => new IdMap(size, size, CropPadded(m.Ids, m.Width, m.Height, 1, x, y, size)));

    /// <summary>Applies the plan to a photo: Pillow's BICUBIC.</summary>
    public static RgbImage Apply(RgbImage photo, TransformPlan plan) =>
        Apply(photo, plan, p => (p.Width, p.Height), (p, w, h) => Resampler.Resize(p, w, h, ResampleFilter.Bicubic),
            (p, x, y, size) => new RgbImage(size, size, CropPadded(p.Pixels, p.Width, p.Height, 3, x, y, size)));

    private static T Apply<T>(T r, TransformPlan plan, Func<T, (int W, int H)> sizeOf, Func<T, int, int, T> resize, Func<T, int, int, int, T> crop)
    {
        var (w0, h0) = sizeOf(r);
        if (plan.ResizeW is int rw && plan.ResizeH is int rh && (rw != w0 || rh != h0)) r = resize(r, rw, rh);
        var (w1, h1) = sizeOf(r);
        if (plan.CropSize is int size && (w1 > size || h1 > size)) r = crop(r, plan.CropX!.Value, plan.CropY!.Value, size);
        if (plan.MakeMultiple)
        {
            var (w2, h2) = sizeOf(r);
            int h = (int)(Math.Round(h2 / (double)plan.SizeBase, MidpointRounding.ToEven) * plan.SizeBase);
            int w = (int)(Math.Round(w2 / (double)plan.SizeBase, MidpointRounding.ToEven) * plan.SizeBase);
            if (h != h2 || w != w2) r = resize(r, w, h);
        }
        return r;
    }

    /// <summary>PIL crop of interleaved samples: a size x size window at (x0, y0); parts outside the image are zero.</summary>
    private static T[] CropPadded<T>(T[] src, int width, int height, int channels, int x0, int y0, int size)
    {
        var dst = new T[size * size * channels];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int sx = x0 + x, sy = y0 + y;
                if (sx >= 0 && sy >= 0 && sx < width && sy < height)
                    Array.Copy(src, (sy * width + sx) * channels, dst, (y * size + x) * channels, channels);
            }
        return dst;
    }

    /// <summary>Class or instance ids as a float32 tensor [1, 1, H, W] (what the data loader yields, batched).</summary>
    public static Tensor IdsToTensor(IdMap r) => tensor(r.Ids.Select(v => (float)v).ToArray(), [1, 1, r.Height, r.Width]);

    /// <summary>ToTensor + Normalize(0.5, 0.5): an RGB photo -> [1, 3, H, W] in [-1, 1], bit-identical to torchvision.</summary>
    public static Tensor PhotoToTensor(RgbImage r)
    {
        using var scope = NewDisposeScope();
        var t = tensor(r.Pixels, [r.Height, r.Width, 3]).permute(2, 0, 1).unsqueeze(0).to(ScalarType.Float32).div(255f);
        return scope.MoveToOuter(t.sub(0.5f).div(0.5f).contiguous());
    }

    /// <summary>
    /// tensor2im of one CHW image: (x + 1) / 2 * 255 in float32, clipped, truncated to uint8; HWC out. One channel or
    /// more than three: only channel 0 (HW out).
    /// </summary>
    public static Tensor ToImage(Tensor chw)
    {
        using var scope = NewDisposeScope();
        var x = chw.to(ScalarType.Float32);
        if (x.shape[0] == 1 || x.shape[0] > 3) x = x[0];
        else x = x.permute(1, 2, 0);
        var v = x.add(1f).div(2f).mul(255f).clamp(0f, 255f).to(ScalarType.Byte);
        return scope.MoveToOuter(v.contiguous());
    }
}
