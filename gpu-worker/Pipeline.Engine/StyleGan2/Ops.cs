using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>Stateless primitives of the reference's <c>op/</c> package (CPU-native semantics, any device).</summary>
public static class Ops
{
    public static readonly double Sqrt2 = Math.Sqrt(2.0);

    /// <summary>make_kernel: outer product of a 1-D kernel with itself (a 2-D kernel is used as given), normalised to sum 1.</summary>
    public static Tensor MakeKernel(float[] k)
    {
        var t = tensor(k, dtype: float32);
        t = t.outer(t);
        return t / t.sum();
    }

    /// <summary>The [1,3,3,1] blur kernel every StyleGAN2 module uses.</summary>
    public static float[] DefaultBlur => [1f, 3f, 3f, 1f];

    /// <summary>upfirdn2d with the same up/down factors and pads (p0, p1) on both axes.</summary>
    public static Tensor Upfirdn2d(Tensor x, Tensor kernel, int up = 1, int down = 1, (int P0, int P1) pad = default) =>
        Upfirdn2d(x, kernel, up, up, down, down, pad.P0, pad.P1, pad.P0, pad.P1);

    /// <summary>
    /// Zero-insert by (upX, upY), pad/crop by (x0, x1, y0, y1), true-convolve every channel with <paramref name="kernel"/>
    /// (flipped correlation, valid mode), keep every (downX, downY)-th sample. Spec section 1.2.
    /// </summary>
    public static Tensor Upfirdn2d(Tensor x, Tensor kernel, int upX, int upY, int downX, int downY, int padX0, int padX1, int padY0, int padY1)
    {
        if (x.dim() != 4) throw new ArgumentException($"upfirdn2d expects NCHW, got [{string.Join(", ", x.shape)}]", nameof(x));
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        long kh = kernel.shape[0], kw = kernel.shape[1];
        // Fast paths (same values): no zero-insertion/pad copies, which matter on GPUs at high resolution.
        if (upX == 1 && upY == 1 && padX0 == padX1 && padY0 == padY1 && padX0 >= 0 && padY0 >= 0)
            return nn.functional.conv2d(x, Depthwise(kernel, x, c, flip: true), null, [downY, downX], [padY0, padX0], [1, 1], c);
        if (upX == 2 && upY == 2 && downX == 1 && downY == 1 && kh == 4 && kw == 4 && padX0 == 2 && padX1 == 1 && padY0 == 2 && padY1 == 1)
        {
            // Zero insertion + pad (2, 1) + true 4x4 convolution == stride-2 transposed convolution with padding 1 and the unflipped kernel.
            return nn.functional.conv_transpose2d(x, Depthwise(kernel, x, c, flip: false), null, [2, 2], [1, 1], [0, 0], [1, 1], c);
        }
        var o = x;
        if (upX > 1 || upY > 1)
        {
            // Each sample followed by up-1 zeros (also after the last one), exactly like the native op.
            o = o.reshape(n, c, h, 1, w, 1);
            o = nn.functional.pad(o, [0, upX - 1, 0, 0, 0, upY - 1]);
            o = o.reshape(n, c, h * upY, w * upX);
        }
        if (padX0 > 0 || padX1 > 0 || padY0 > 0 || padY1 > 0)
            o = nn.functional.pad(o, [Math.Max(padX0, 0), Math.Max(padX1, 0), Math.Max(padY0, 0), Math.Max(padY1, 0)]);
        if (padX0 < 0 || padX1 < 0 || padY0 < 0 || padY1 < 0)
        {
            long hh = o.shape[2], ww = o.shape[3];
            int cy0 = Math.Max(-padY0, 0), cy1 = Math.Max(-padY1, 0), cx0 = Math.Max(-padX0, 0), cx1 = Math.Max(-padX1, 0);
            o = o.narrow(2, cy0, hh - cy0 - cy1).narrow(3, cx0, ww - cx0 - cx1);
        }
        // Depthwise conv with the flipped kernel = true convolution; the stride does the decimation.
        return nn.functional.conv2d(o, Depthwise(kernel, o, c, flip: true), null, [downY, downX], [0, 0], [1, 1], c);
    }

    private static Tensor Depthwise(Tensor kernel, Tensor like, long channels, bool flip)
    {
        var k = kernel.to(like.dtype, like.device);
        if (flip) k = k.flip(0, 1);
        return k.reshape(1, 1, k.shape[0], k.shape[1]).expand(channels, 1, k.shape[0], k.shape[1]);
    }

    /// <summary>
    /// fused_leaky_relu: leaky_relu(x + bias (channel axis 1), slope) * scale. The reference's CPU path always uses slope 0.2;
    /// callers that mirror rosinality pass the default.
    /// </summary>
    public static Tensor FusedLeakyRelu(Tensor x, Tensor? bias, double negativeSlope = 0.2, double? scale = null)
    {
        if (bias is not null)
        {
            var shape = new long[x.dim()];
            Array.Fill(shape, 1L);
            shape[1] = bias.shape[0];
            x = x + bias.view(shape);
        }
        return nn.functional.leaky_relu(x, negativeSlope) * (scale ?? Sqrt2);
    }
}
