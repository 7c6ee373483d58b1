using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

// Field names mirror the PyTorch attributes of rosinality's model.py so state_dict keys match by construction.

/// <summary>Per-row normalisation of a [B, D] matrix: x * rsqrt(mean(x^2, 1) + 1e-8).</summary>
public sealed class PixelNorm() : nn.Module<Tensor, Tensor>(nameof(PixelNorm))
{
    public override Tensor forward(Tensor input) => input * (input.square().mean([1], keepdim: true) + 1e-8).rsqrt();
}

/// <summary>Blur(kernel, pad, upsample_factor): upfirdn2d(x, K * factor^2, pad). Persistent buffer <c>kernel</c>.</summary>
public sealed class Blur : nn.Module<Tensor, Tensor>
{
    private readonly Tensor kernel;
    private readonly (int, int) _pad;

    public Blur(float[] kernel, (int P0, int P1) pad, int upsampleFactor = 1) : base(nameof(Blur))
    {
        var k = Ops.MakeKernel(kernel);
        if (upsampleFactor > 1) k *= upsampleFactor * upsampleFactor;
        this.kernel = k;
        _pad = pad;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => Ops.Upfirdn2d(input, kernel, 1, 1, _pad);
}

/// <summary>Upsample by 2 with the FIR kernel (x4 gain), pad (2, 1): H -> 2H.</summary>
public sealed class Upsample : nn.Module<Tensor, Tensor>
{
    private readonly Tensor kernel;
    private readonly int _factor;
    private readonly (int, int) _pad;

    public Upsample(float[] kernel, int factor = 2) : base(nameof(Upsample))
    {
        _factor = factor;
        this.kernel = Ops.MakeKernel(kernel) * (factor * factor);
        int p = kernel.Length - factor;
        _pad = ((p + 1) / 2 + factor - 1, p / 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => Ops.Upfirdn2d(input, kernel, _factor, 1, _pad);
}

/// <summary>Downsample by 2 with the FIR kernel, pad (1, 1): H -> H/2 (defined by the reference, unused by G/D).</summary>
public sealed class Downsample : nn.Module<Tensor, Tensor>
{
    private readonly Tensor kernel;
    private readonly int _factor;
    private readonly (int, int) _pad;

    public Downsample(float[] kernel, int factor = 2) : base(nameof(Downsample))
    {
        _factor = factor;
        this.kernel = Ops.MakeKernel(kernel);
        int p = kernel.Length - factor;
        _pad = ((p + 1) / 2, p / 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => Ops.Upfirdn2d(input, kernel, 1, _factor, _pad);
}

/// <summary>FusedLeakyReLU(channel): parameter <c>bias</c>; leaky_relu(x + bias, 0.2) * sqrt(2).</summary>
public sealed class FusedLeakyReLU : nn.Module<Tensor, Tensor>
{
    private readonly Parameter? bias;
    private readonly double _slope;

    public FusedLeakyReLU(long channel, bool bias = true, double negativeSlope = 0.2) : base(nameof(FusedLeakyReLU))
    {
        if (bias) this.bias = new Parameter(zeros(channel));
        _slope = negativeSlope;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => Ops.FusedLeakyRelu(input, bias, _slope);
}

/// <summary>leaky_relu(x, 0.2) * sqrt(2) without a bias (SOAT's ConvLayer with activate and no bias).</summary>
public sealed class ScaledLeakyReLU(double negativeSlope = 0.2) : nn.Module<Tensor, Tensor>(nameof(ScaledLeakyReLU))
{
    public override Tensor forward(Tensor input) => nn.functional.leaky_relu(input, negativeSlope) * Ops.Sqrt2;
}

/// <summary>
/// Equalised-learning-rate linear layer. Stored weights are randn/lr_mul; the runtime scale lr_mul/sqrt(in) and
/// the bias multiplier lr_mul restore the effective values (spec 1.6).
/// </summary>
public sealed class EqualLinear : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly double _scale, _lrMul;
    private readonly bool _fusedLrelu;

    public EqualLinear(long inDim, long outDim, bool bias = true, float biasInit = 0, double lrMul = 1, bool fusedLrelu = false)
        : base(nameof(EqualLinear))
    {
        weight = new Parameter(randn(outDim, inDim).div_(lrMul));
        if (bias) this.bias = new Parameter(full(outDim, biasInit));
        _scale = lrMul / Math.Sqrt(inDim);
        _lrMul = lrMul;
        _fusedLrelu = fusedLrelu;
        RegisterComponents();
    }

    public long InFeatures => weight.shape[1];
    public long OutFeatures => weight.shape[0];

    public override Tensor forward(Tensor input)
    {
        var w = weight * _scale;
        if (_fusedLrelu)
            return Ops.FusedLeakyRelu(input.matmul(w.t()), bias is null ? null : bias * _lrMul);
        return bias is null ? input.matmul(w.t()) : nn.functional.linear(input, w, bias * _lrMul);
    }
}

/// <summary>Equalised-learning-rate conv: conv2d(x, weight / sqrt(in*k*k), bias, stride, padding).</summary>
public sealed class EqualConv2d : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly double _scale;
    private readonly long _stride, _padding;

    public EqualConv2d(long inChannel, long outChannel, long kernelSize, long stride = 1, long padding = 0, bool bias = true)
        : base(nameof(EqualConv2d))
    {
        weight = new Parameter(randn(outChannel, inChannel, kernelSize, kernelSize));
        if (bias) this.bias = new Parameter(zeros(outChannel));
        _scale = 1.0 / Math.Sqrt(inChannel * kernelSize * kernelSize);
        _stride = stride;
        _padding = padding;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) =>
        nn.functional.conv2d(input, weight * _scale, bias, [_stride, _stride], [_padding, _padding]);
}
