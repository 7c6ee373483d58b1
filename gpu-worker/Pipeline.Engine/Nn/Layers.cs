using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.Nn;

// PyTorch's nn.Conv2d, nn.ConvTranspose2d and nn.Linear: the same state-dict keys (weight, bias), the same forward and
// the same default initialisation, drawn in the same order (kaiming_uniform_(a=sqrt 5) on the weight, then the bias
// uniform in +-1/sqrt(fan_in)), so seeded models come out as TorchSharp's built-ins made them.
// Why not TorchSharp's built-ins (0.107): each Conv2d, ConvTranspose2d or Linear built and disposed leaves native memory
// behind (glibc bytes in use after collection, per Conv2d + Linear pair: 1.37 KB; ours 0.14 KB, of which TorchSharp's
// module base class keeps 0.13), and a worker that loads and evicts models for weeks builds thousands of them.

/// <summary>nn.Conv2d with zero padding.</summary>
public sealed class Conv2d : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;
    private readonly long[] _stride, _padding, _dilation;
    private readonly long _groups;

    public Conv2d(long inChannels, long outChannels, (long, long) kernel, (long, long) stride, (long, long) padding, (long, long) dilation, long groups = 1, bool bias = true)
        : base(nameof(Conv2d))
    {
        weight = new Parameter(empty(outChannels, inChannels / groups, kernel.Item1, kernel.Item2));
        if (bias) this.bias = new Parameter(empty(outChannels));
        DefaultInit.Reset(weight, this.bias);
        (_stride, _padding, _dilation, _groups) = ([stride.Item1, stride.Item2], [padding.Item1, padding.Item2], [dilation.Item1, dilation.Item2], groups);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => nn.functional.conv2d(input, weight, bias, _stride, _padding, _dilation, _groups);
}

/// <summary>nn.ConvTranspose2d with zero padding.</summary>
public sealed class ConvTranspose2d : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;
    private readonly long[] _stride, _padding, _outputPadding, _dilation;
    private readonly long _groups;

    public ConvTranspose2d(long inChannels, long outChannels, long kernel, long stride = 1, long padding = 0, long outputPadding = 0, long dilation = 1, long groups = 1, bool bias = true)
        : base(nameof(ConvTranspose2d))
    {
        weight = new Parameter(empty(inChannels, outChannels / groups, kernel, kernel));
        if (bias) this.bias = new Parameter(empty(outChannels));
        DefaultInit.Reset(weight, this.bias);
        (_stride, _padding, _outputPadding, _dilation, _groups) = ([stride, stride], [padding, padding], [outputPadding, outputPadding], [dilation, dilation], groups);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) =>
        nn.functional.conv_transpose2d(input, weight, bias, _stride, _padding, _outputPadding, _dilation, _groups);
}

/// <summary>nn.Linear.</summary>
public sealed class Linear : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;

    public Linear(long inFeatures, long outFeatures, bool bias = true) : base(nameof(Linear))
    {
        weight = new Parameter(empty(outFeatures, inFeatures));
        if (bias) this.bias = new Parameter(empty(outFeatures));
        DefaultInit.Reset(weight, this.bias);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => nn.functional.linear(input, weight, bias);
}

/// <summary>Factories with PyTorch's argument names and defaults.</summary>
public static class Layers
{
    public static Conv2d Conv2d(long inChannels, long outChannels, long kernel_size, long stride = 1, long padding = 0, long dilation = 1, long groups = 1, bool bias = true) =>
        new(inChannels, outChannels, (kernel_size, kernel_size), (stride, stride), (padding, padding), (dilation, dilation), groups, bias);

    public static Conv2d Conv2d(long inChannels, long outChannels, (long, long) kernel_size, (long, long)? stride = null, (long, long)? padding = null, bool bias = true) =>
        new(inChannels, outChannels, kernel_size, stride ?? (1, 1), padding ?? (0, 0), (1, 1), 1, bias);

    public static ConvTranspose2d ConvTranspose2d(long inChannels, long outChannels, long kernel_size, long stride = 1, long padding = 0, long output_padding = 0, bool bias = true) =>
        new(inChannels, outChannels, kernel_size, stride, padding, output_padding, bias: bias);

    public static Linear Linear(long inFeatures, long outFeatures, bool bias = true) => new(inFeatures, outFeatures, bias);
}

/// <summary>_ConvNd.reset_parameters / Linear.reset_parameters.</summary>
internal static class DefaultInit
{
    public static void Reset(Parameter weight, Parameter? bias)
    {
        using var _ = no_grad();
        nn.init.kaiming_uniform_(weight, Math.Sqrt(5));
        if (bias is null) return;
        // fan_in = size(1) * receptive field, for a transposed conv's (in, out/groups, k, k) weight too, as in PyTorch
        var (fanIn, _) = nn.init.CalculateFanInAndFanOut(weight);
        if (fanIn != 0) nn.init.uniform_(bias, -1 / Math.Sqrt(fanIn), 1 / Math.Sqrt(fanIn));
    }
}
