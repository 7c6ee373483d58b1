using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

public sealed partial class Soat
{
    private Tensor Noise(int layer, long width) => WidenNoise(G.NoiseBuffersList[layer], width);

    /// <summary>
    /// merge_extension: two batch-1 style lists rendered side by side into one [1, 3, S, 2S] image; every layer runs
    /// both styles on the same input and blends them with the width ramp (conv1 outputs are concatenated instead).
    /// </summary>
    public Tensor MergeExtension(IReadOnlyList<Tensor> l1, IReadOnlyList<Tensor> l2)
    {
        var x = G.Input.forward(1);
        var n0 = G.NoiseBuffersList[0];
        var o = cat([G.Conv1.ForwardStyle(x, l1[0], n0), G.Conv1.ForwardStyle(x, l2[0], n0)], 3);
        Tensor Blend(Tensor p, Tensor q) => Mix(p, q, Ramp(p.shape[3], p.device).view(1, 1, 1, -1));
        var skip = Blend(G.ToRgb1.ForwardStyle(o, l1[1], null), G.ToRgb1.ForwardStyle(o, l2[1], null));
        for (int j = 0, i = 2; j < G.ToRgbs.Count; j++, i += 3)
        {
            var (c0, c1, rgb) = (G.Convs[2 * j], G.Convs[2 * j + 1], G.ToRgbs[j]);
            var n = Noise(1 + 2 * j, 2 * o.shape[3]);
            o = Blend(c0.ForwardStyle(o, l1[i], n), c0.ForwardStyle(o, l2[i], n));
            n = Noise(2 + 2 * j, o.shape[3]);
            o = Blend(c1.ForwardStyle(o, l1[i + 1], n), c1.ForwardStyle(o, l2[i + 1], n));
            skip = Blend(rgb.ForwardStyle(o, l1[i + 2], skip), rgb.ForwardStyle(o, l2[i + 2], skip));
        }
        return skip.clamp(-1, 1);
    }

    /// <summary>
    /// Runs the synthesis with two batch-1 style lists on one shared running input, mixing every layer's two
    /// outputs with the alpha that <paramref name="alphaFor"/> gives for (style index, layer output); null = no blend.
    /// </summary>
    private Tensor Lockstep(IReadOnlyList<Tensor> l1, IReadOnlyList<Tensor> l2, Func<int, Tensor, Tensor?> alphaFor)
    {
        Tensor Step(int i, Tensor p, Tensor q) => alphaFor(i, p) is { } a ? Mix(p, q, a) : p;
        var noise = G.NoiseBuffersList;
        var x = G.Input.forward(1);
        var o = Step(0, G.Conv1.ForwardStyle(x, l1[0], noise[0]), G.Conv1.ForwardStyle(x, l2[0], noise[0]));
        var skip = Step(1, G.ToRgb1.ForwardStyle(o, l1[1], null), G.ToRgb1.ForwardStyle(o, l2[1], null));
        for (int j = 0, i = 2; j < G.ToRgbs.Count; j++, i += 3)
        {
            var (c0, c1, rgb) = (G.Convs[2 * j], G.Convs[2 * j + 1], G.ToRgbs[j]);
            o = Step(i, c0.ForwardStyle(o, l1[i], noise[1 + 2 * j]), c0.ForwardStyle(o, l2[i], noise[1 + 2 * j]));
            o = Step(i + 1, c1.ForwardStyle(o, l1[i + 1], noise[2 + 2 * j]), c1.ForwardStyle(o, l2[i + 1], noise[2 + 2 * j]));
            skip = Step(i + 2, rgb.ForwardStyle(o, l1[i + 2], skip), rgb.ForwardStyle(o, l2[i + 2], skip));
        }
        return skip.clamp(-1, 1);
    }

    /// <summary>
    /// blend: vertical or horizontal transition from latent1 to latent2. As in SOAT the ramp length is the feature
    /// HEIGHT in both modes (the maps are square).
    /// </summary>
    public Tensor Blend(IReadOnlyList<Tensor> l1, IReadOnlyList<Tensor> l2, BlendDirection direction) =>
        Lockstep(l1, l2, (_, p) =>
        {
            var a = Ramp(p.shape[2], p.device);
            return direction == BlendDirection.Vertical ? a.view(1, 1, -1, 1) : a.view(1, 1, 1, -1);
        });

    /// <summary>The blurred 256x256 box mask blend_bbox uses (kornia gaussian_blur2d, kernel = sigma = h//2 made odd).</summary>
    public static Tensor BoxMask(Box256 box, Device? device = null)
    {
        var mask = zeros([1, 1, 256, 256], device: device);
        int yEnd = (byte)(box.Y + box.H), xEnd = (byte)(box.X + box.W); // numpy uint8 arithmetic wraps
        if (yEnd > box.Y && xEnd > box.X)
            mask[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(box.Y, yEnd), TensorIndex.Slice(box.X, xEnd)] = tensor(1f);
        int kh = box.H / 2; kh += kh % 2 + 1;
        int kw = box.W / 2; kw += kw % 2 + 1;
        return GaussianBlur2d(mask, kh, kw, kh, kw);
    }

    /// <summary>kornia.filters.gaussian_blur2d: normalised exp(-x^2/(2 sigma^2)) taps, outer product, reflect padding, correlation.</summary>
    public static Tensor GaussianBlur2d(Tensor x, int kh, int kw, double sigmaH, double sigmaW)
    {
        static Tensor Taps(int n, double sigma, Device dev)
        {
            var t = arange(n, dtype: float32, device: dev) - n / 2;
            var g = (-t.square() / (2 * sigma * sigma)).exp();
            return g / g.sum();
        }
        var k2 = Taps(kh, sigmaH, x.device).outer(Taps(kw, sigmaW, x.device));
        long c = x.shape[1];
        var padded = nn.functional.pad(x, [(kw - 1) / 2, (kw - 1) / 2, (kh - 1) / 2, (kh - 1) / 2], PaddingModes.Reflect);
        return nn.functional.conv2d(padded, k2.expand(c, 1, kh, kw), groups: c);
    }

    /// <summary>blend_bbox: latent2's content inside a blurred box, latent1 elsewhere (alpha = the mask resized per layer).</summary>
    public Tensor BlendBox(IReadOnlyList<Tensor> l1, IReadOnlyList<Tensor> l2, BlendBoxOptions options)
    {
        var mask = BoxMask(options.Box, G.Device);
        return Lockstep(l1, l2, (i, p) =>
        {
            // SOAT quirk kept: conv1 (i = 0) is blended even with pose alignment.
            if (options.PoseAlign && i is >= 1 and <= 3) return null;
            if (i >= 2 && i > options.NumBlend) return null;
            return nn.functional.interpolate(mask, [p.shape[2], p.shape[3]], mode: InterpolationMode.Bilinear, align_corners: false);
        });
    }

    /// <summary>
    /// patch_swap: both images are generated in lock-step; after the 16x16 block (style index 5) the rectangle of image 2
    /// is copied into image 1's features (and back when swapping). Returns image 1, clamped.
    /// </summary>
    public Tensor PatchSwap(IReadOnlyList<Tensor> l1, IReadOnlyList<Tensor> l2, PatchSwapOptions options)
    {
        var noise = G.NoiseBuffersList;
        var x = G.Input.forward(1);
        var o1 = G.Conv1.ForwardStyle(x, l1[0], noise[0]);
        var o2 = G.Conv1.ForwardStyle(x, l2[0], noise[0]);
        var s1 = G.ToRgb1.ForwardStyle(o1, l1[1], null);
        var s2 = G.ToRgb1.ForwardStyle(o2, l2[1], null);
        for (int j = 0, i = 2; j < G.ToRgbs.Count; j++, i += 3)
        {
            var (c0, c1, rgb) = (G.Convs[2 * j], G.Convs[2 * j + 1], G.ToRgbs[j]);
            o1 = c1.ForwardStyle(c0.ForwardStyle(o1, l1[i], noise[1 + 2 * j]), l1[i + 1], noise[2 + 2 * j]);
            o2 = c1.ForwardStyle(c0.ForwardStyle(o2, l2[i], noise[1 + 2 * j]), l2[i + 1], noise[2 + 2 * j]);
            s1 = rgb.ForwardStyle(o1, l1[i + 2], s1);
            s2 = rgb.ForwardStyle(o2, l2[i + 2], s2);
            if (i == 5)
            {
                const int scale = 256 / 16;
                var (a, b) = (options.Target, options.Source);
                int x1 = a.X / scale, y1 = a.Y / scale, x2 = b.X / scale, y2 = b.Y / scale;
                int w = Math.Max(a.W, b.W) / scale, h = Math.Max(a.H, b.H) / scale;
                o1 = o1.clone();
                Paste(o1, y1, x1, o2, y2, x2, h, w);
                if (options.Swap) Paste(o1, y2, x2, o2, y1, x1, h, w);
            }
        }
        return s1.clamp(-1, 1);
    }

    // dst[:, :, y:y+h, x:x+w] = src[:, :, sy:sy+h, sx:sx+w] with Python's clipping of out-of-range slices.
    private static void Paste(Tensor dst, int y, int x, Tensor src, int sy, int sx, int h, int w)
    {
        var d = dst[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(y, y + h), TensorIndex.Slice(x, x + w)];
        var s = src[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(sy, sy + h), TensorIndex.Slice(sx, sx + w)];
        d.copy_(s);
    }

    /// <summary>
    /// Layer-wise interpolation between this generator (e.g. faces) and <paramref name="toon"/>: every layer of both runs
    /// on the same input with its own weights and noise, mixed with EarlyAlpha below NumSwap and Alpha from there on.
    /// </summary>
    public Tensor Toonify(Generator toon, IReadOnlyList<Tensor> l1, IReadOnlyList<Tensor> l2, ToonifyOptions options)
    {
        double ea = options.EarlyAlpha;
        double A(int i) => i < options.NumSwap ? ea : options.Alpha;
        var (n1, n2) = (G.NoiseBuffersList, toon.NoiseBuffersList);
        var x = Mix(G.Input.forward(1), toon.Input.forward(1), ea);
        x = Mix(G.Conv1.ForwardStyle(x, l1[0], n1[0]), toon.Conv1.ForwardStyle(x, l2[0], n2[0]), ea);
        var skip = Mix(G.ToRgb1.ForwardStyle(x, l1[1], null), toon.ToRgb1.ForwardStyle(x, l2[1], null), ea);
        for (int j = 0, i = 2; j < G.ToRgbs.Count; j++, i += 3)
        {
            x = Mix(G.Convs[2 * j].ForwardStyle(x, l1[i], n1[1 + 2 * j]), toon.Convs[2 * j].ForwardStyle(x, l2[i], n2[1 + 2 * j]), A(i));
            x = Mix(G.Convs[2 * j + 1].ForwardStyle(x, l1[i + 1], n1[2 + 2 * j]), toon.Convs[2 * j + 1].ForwardStyle(x, l2[i + 1], n2[2 + 2 * j]), A(i + 1));
            skip = Mix(G.ToRgbs[j].ForwardStyle(x, l1[i + 2], skip), toon.ToRgbs[j].ForwardStyle(x, l2[i + 2], skip), A(i + 2));
        }
        return skip.clamp(-1, 1);
    }

    /// <summary>
    /// Spatial blend of two generators with the same architecture: every layer of both runs on the shared input with its
    /// own weights, noise buffers and style list, mixed with the ramp of <see cref="Blend"/> (this generator on the
    /// left/top, <paramref name="other"/> on the right/bottom).
    /// </summary>
    public Tensor BlendGenerators(Generator other, IReadOnlyList<Tensor> l1, IReadOnlyList<Tensor> l2, BlendDirection direction)
    {
        if (other.Config.NumStyles != G.Config.NumStyles || other.Config.Size != G.Config.Size)
            throw new ArgumentException($"the generators differ in architecture ({G.Config.Size} px / {G.Config.NumStyles} styles vs {other.Config.Size} px / {other.Config.NumStyles})");
        Tensor M(Tensor p, Tensor q)
        {
            var a = Ramp(p.shape[2], p.device);
            return Mix(p, q, direction == BlendDirection.Vertical ? a.view(1, 1, -1, 1) : a.view(1, 1, 1, -1));
        }
        var (n1, n2) = (G.NoiseBuffersList, other.NoiseBuffersList);
        var x = M(G.Input.forward(1), other.Input.forward(1));
        x = M(G.Conv1.ForwardStyle(x, l1[0], n1[0]), other.Conv1.ForwardStyle(x, l2[0], n2[0]));
        var skip = M(G.ToRgb1.ForwardStyle(x, l1[1], null), other.ToRgb1.ForwardStyle(x, l2[1], null));
        for (int j = 0, i = 2; j < G.ToRgbs.Count; j++, i += 3)
        {
            x = M(G.Convs[2 * j].ForwardStyle(x, l1[i], n1[1 + 2 * j]), other.Convs[2 * j].ForwardStyle(x, l2[i], n2[1 + 2 * j]));
            x = M(G.Convs[2 * j + 1].ForwardStyle(x, l1[i + 1], n1[2 + 2 * j]), other.Convs[2 * j + 1].ForwardStyle(x, l2[i + 1], n2[2 + 2 * j]));
            skip = M(G.ToRgbs[j].ForwardStyle(x, l1[i + 2], skip), other.ToRgbs[j].ForwardStyle(x, l2[i + 2], skip));
        }
        return skip.clamp(-1, 1);
    }
}
