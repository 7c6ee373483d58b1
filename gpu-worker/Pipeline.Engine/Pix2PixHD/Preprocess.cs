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

    /// <summary>Applies the plan to one map: <paramref name="nearest"/> for label/instance ids, bicubic (8-bit only) for photos.</summary>
    public static Raster<T> Apply<T>(Raster<T> r, TransformPlan plan, Func<Raster<T>, int, int, Raster<T>> resize)
    {
        if (plan.ResizeW is int rw && plan.ResizeH is int rh && (rw != r.Width || rh != r.Height)) r = resize(r, rw, rh);
        if (plan.CropSize is int size && (r.Width > size || r.Height > size)) r = Crop(r, plan.CropX!.Value, plan.CropY!.Value, size);
        if (plan.MakeMultiple)
        {
            int h = (int)(Math.Round(r.Height / (double)plan.SizeBase, MidpointRounding.ToEven) * plan.SizeBase);
            int w = (int)(Math.Round(r.Width / (double)plan.SizeBase, MidpointRounding.ToEven) * plan.SizeBase);
            if (h != r.Height || w != r.Width) r = resize(r, w, h);
        }
        return r;
    }

    public static Raster<T> NearestResize<T>(Raster<T> r, int w, int h) => new(w, h, Resampling.Nearest(r.Planes, r.Width, r.Height, w, h));

    public static Raster<byte> BicubicResize(Raster<byte> r, int w, int h) => new(w, h, Resampling.Bicubic(r.Planes, r.Width, r.Height, w, h));

    /// <summary>PIL crop: a size x size window at (x, y); parts outside the image are zero.</summary>
    public static Raster<T> Crop<T>(Raster<T> r, int x0, int y0, int size)
    {
        var planes = new T[r.Channels][];
        for (int c = 0; c < r.Channels; c++)
        {
            var dst = planes[c] = new T[size * size];
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    int sx = x0 + x, sy = y0 + y;
                    if (sx >= 0 && sy >= 0 && sx < r.Width && sy < r.Height) dst[y * size + x] = r.Planes[c][sy * r.Width + sx];
                }
        }
        return new Raster<T>(size, size, planes);
    }

    /// <summary>Class or instance ids as a float32 tensor [1, 1, H, W] (what the data loader yields, batched).</summary>
    public static Tensor IdsToTensor(Raster<int> r)
    {
        if (r.Channels != 1) throw new InvalidLabelMapException(LabelMapRejection.NotSingleChannel, $"an id map must have one channel, this one has {r.Channels}");
        return tensor(r.Planes[0].Select(v => (float)v).ToArray(), [1, 1, r.Height, r.Width]);
    }

    /// <summary>ToTensor + Normalize(0.5, 0.5): 8-bit planes -> [1, C, H, W] in [-1, 1], bit-identical to torchvision.</summary>
    public static Tensor PhotoToTensor(Raster<byte> r)
    {
        using var scope = NewDisposeScope();
        var flat = r.Planes.SelectMany(p => p).ToArray();
        var t = tensor(flat, [1, r.Channels, r.Height, r.Width]).to(ScalarType.Float32).div(255f);
        return scope.MoveToOuter(t.sub(0.5f).div(0.5f));
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
