using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>
/// The reference wraps nn.Linear / nn.Conv2d with equal_lr, which renames `weight` to `weight_orig` and scales it by
/// sqrt(2 / fan_in) before every call. These inner modules own exactly `bias` and `weight_orig`, so keys match by
/// construction; the scale is applied in the forward (never baked into the stored tensor) so gradients and re-saved
/// checkpoints keep the reference's meaning.
/// </summary>
internal static class EqualLr
{
    /// <summary>fan_in = size(1) * numel(weight[0][0]), as in the reference's equal_lr.</summary>
    public static double Multiplier(long[] weightShape)
    {
        long fanIn = weightShape[1];
        for (int d = 2; d < weightShape.Length; d++) fanIn *= weightShape[d];
        return Math.Sqrt(2.0 / fanIn);
    }
}

/// <summary>nn.Linear after equal_lr: parameters `bias` and `weight_orig` [out, in].</summary>
public sealed class LinearOrig : nn.Module<Tensor, Tensor>
{
    private readonly Parameter bias;
    private readonly Parameter weight_orig;
    private readonly double multiplier;

    public LinearOrig(long inDim, long outDim) : base("Linear")
    {
        bias = new Parameter(zeros(outDim));
        weight_orig = new Parameter(randn(outDim, inDim));
        multiplier = EqualLr.Multiplier(weight_orig.shape);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.linear(x, weight_orig * multiplier, bias);
}

/// <summary>nn.Conv2d (stride 1, zero padding) after equal_lr: parameters `bias` and `weight_orig` [cout, cin, k, k].</summary>
public sealed class Conv2dOrig : nn.Module<Tensor, Tensor>
{
    private readonly Parameter bias;
    private readonly Parameter weight_orig;
    private readonly double multiplier;
    private readonly long padding;

    public Conv2dOrig(long cin, long cout, long kernel, long padding) : base("Conv2d")
    {
        bias = new Parameter(zeros(cout));
        weight_orig = new Parameter(randn(cout, cin, kernel, kernel));
        multiplier = EqualLr.Multiplier(weight_orig.shape);
        this.padding = padding;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        nn.functional.conv2d(x, weight_orig * multiplier, bias, padding: [padding, padding]);
}

/// <summary>EqualLinear(in, out): keys `linear.weight_orig`, `linear.bias`.</summary>
public sealed class EqualLinear : nn.Module<Tensor, Tensor>
{
    private readonly LinearOrig linear;

    public EqualLinear(long inDim, long outDim) : base(nameof(EqualLinear))
    {
        linear = new LinearOrig(inDim, outDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => linear.forward(x);
}

/// <summary>EqualConv2d(cin, cout, k, padding): keys `conv.weight_orig`, `conv.bias`.</summary>
public sealed class EqualConv2d : nn.Module<Tensor, Tensor>
{
    private readonly Conv2dOrig conv;

    public EqualConv2d(long cin, long cout, long kernel, long padding) : base(nameof(EqualConv2d))
    {
        conv = new Conv2dOrig(cin, cout, kernel, padding);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => conv.forward(x);
}
