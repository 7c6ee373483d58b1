using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>x / sqrt(mean(x^2 over dim 1) + 1e-8).</summary>
public sealed class PixelNorm : nn.Module<Tensor, Tensor>
{
    public PixelNorm() : base(nameof(PixelNorm)) { }

    public override Tensor forward(Tensor x) => x / (x.pow(2).mean([1], keepdim: true) + 1e-8).sqrt();
}

/// <summary>LeakyReLU(0.2) without gain. Parameterless, but it occupies an index in the reference's sequences.</summary>
public sealed class LRelu : nn.Module<Tensor, Tensor>
{
    public LRelu() : base("LeakyReLU") { }

    public override Tensor forward(Tensor x) => nn.functional.leaky_relu(x, 0.2);
}

/// <summary>Nearest 2x upsampling (index 0 of the non-fused generator conv1 sequence).</summary>
public sealed class Upsample2x : nn.Module<Tensor, Tensor>
{
    public Upsample2x() : base("Upsample") { }

    public override Tensor forward(Tensor x) => Up2(x);

    internal static Tensor Up2(Tensor x) => x.repeat_interleave(2, 2).repeat_interleave(2, 3);
}

/// <summary>2x2 average pooling, stride 2 (the non-fused discriminator downsampling).</summary>
public sealed class AvgPool2x : nn.Module<Tensor, Tensor>
{
    public AvgPool2x() : base("AvgPool2d") { }

    public override Tensor forward(Tensor x) => nn.functional.avg_pool2d(x, 2);
}

/// <summary>
/// Depthwise [[1,2,1],[2,4,2],[1,2,1]]/16 filter, zero padding 1. The reference keeps the kernel (and its flip, equal
/// by symmetry) as persistent buffers `weight` and `weight_flip`; a plain grouped conv gives the same gradients.
/// </summary>
public sealed class Blur : nn.Module<Tensor, Tensor>
{
    private readonly Tensor weight;
    private readonly Tensor weight_flip;
    private readonly long channels;

    public Blur(long channels) : base(nameof(Blur))
    {
        this.channels = channels;
        var k = tensor(new float[] { 1, 2, 1, 2, 4, 2, 1, 2, 1 }, [1, 1, 3, 3]) / 16f;
        weight = k.repeat(channels, 1, 1, 1);
        weight_flip = k.flip(2, 3).repeat(channels, 1, 1, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.conv2d(x, weight, padding: [1, 1], groups: channels);
}

/// <summary>
/// Shared kernel construction of the fused layers: scale by sqrt(2/(cin*k*k)), zero-pad by one, then the 2x2 box
/// average (the same summation order as the reference, for bit-level closeness).
/// </summary>
internal static class FusedKernel
{
    public static Tensor Build(Tensor weight, double multiplier)
    {
        var w = nn.functional.pad(weight * multiplier, [1, 1, 1, 1]);
        var a = w[.., .., 1.., 1..];
        var b = w[.., .., ..^1, 1..];
        var c = w[.., .., 1.., ..^1];
        var d = w[.., .., ..^1, ..^1];
        return (a + b + c + d) / 4;
    }
}

/// <summary>Transposed stride-2 conv with a built-in box blur. `weight` is [cin, cout, k, k] (no _orig).</summary>
public sealed class FusedUpsample : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly double multiplier;
    private readonly long pad;

    public FusedUpsample(long cin, long cout, long kernel = 3, long padding = 1) : base(nameof(FusedUpsample))
    {
        weight = new Parameter(randn(cin, cout, kernel, kernel));
        bias = new Parameter(zeros(cout));
        multiplier = Math.Sqrt(2.0 / (cin * kernel * kernel));
        pad = padding;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        nn.functional.conv_transpose2d(x, FusedKernel.Build(weight, multiplier), bias, strides: [2, 2], padding: [pad, pad]);
}

/// <summary>Stride-2 conv with a built-in box blur. `weight` is [cout, cin, k, k] (no _orig).</summary>
public sealed class FusedDownsample : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter bias;
    private readonly double multiplier;
    private readonly long pad;

    public FusedDownsample(long cin, long cout, long kernel = 3, long padding = 1) : base(nameof(FusedDownsample))
    {
        weight = new Parameter(randn(cout, cin, kernel, kernel));
        bias = new Parameter(zeros(cout));
        multiplier = Math.Sqrt(2.0 / (cin * kernel * kernel));
        pad = padding;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        nn.functional.conv2d(x, FusedKernel.Build(weight, multiplier), bias, strides: [2, 2], padding: [pad, pad]);
}

/// <summary>x + (weight_orig * sqrt(2/C)) * noise; noise [B|1, 1, H, W] broadcasts over channels and batch.</summary>
public sealed class NoiseInjection : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Parameter weight_orig;
    private readonly double multiplier;

    public NoiseInjection(long channels) : base(nameof(NoiseInjection))
    {
        weight_orig = new Parameter(zeros(1, channels, 1, 1));
        multiplier = EqualLr.Multiplier(weight_orig.shape);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor noise) => x + (weight_orig * multiplier) * noise;
}

/// <summary>The learned 4x4 input `input` [1, C, 4, 4], repeated to the batch size of its argument.</summary>
public sealed class ConstantInput : nn.Module<Tensor, Tensor>
{
    private readonly Parameter input;

    public ConstantInput(long channels, long size = 4) : base(nameof(ConstantInput))
    {
        input = new Parameter(randn(1, channels, size, size));
        RegisterComponents();
    }

    public override Tensor forward(Tensor batchOf) => input.repeat(batchOf.shape[0], 1, 1, 1);
}

/// <summary>
/// AdaIN: instance norm (biased variance, eps 1e-5, no affine, no running stats) then gamma * x + beta, with
/// [gamma | beta] = EqualLinear(style_dim, 2C)(w). The stored gamma bias already includes the +1.
/// </summary>
public sealed class AdaptiveInstanceNorm : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly EqualLinear style;

    public AdaptiveInstanceNorm(long channels, long styleDim) : base(nameof(AdaptiveInstanceNorm))
    {
        style = new EqualLinear(styleDim, channels * 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor w)
    {
        var s = style.forward(w).unsqueeze(2).unsqueeze(3);
        var gb = s.chunk(2, 1);
        var mean = x.mean([2, 3], keepdim: true);
        var variance = x.var([2L, 3L], unbiased: false, keepdim: true);
        var xn = (x - mean) / (variance + 1e-5).sqrt();
        return gb[0] * xn + gb[1];
    }
}
