using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>Layer factories shared by G, E and D, so every network uses the reference's exact layer settings.</summary>
internal static class Layers
{
    /// <summary>norm(C): IN without affine/stats (no keys) or BN with affine (five keys).</summary>
    public static Module<Tensor, Tensor> Norm(NormKind kind, long channels) => kind switch
    {
        NormKind.Instance => InstanceNorm2d(channels, eps: 1e-5, affine: false, track_running_stats: false),
        NormKind.Batch => BatchNorm2d(channels, eps: 1e-5, momentum: 0.1, affine: true, track_running_stats: true),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static Module<Tensor, Tensor> Conv(long cin, long cout, long k, long stride, long pad) =>
        Nn.Layers.Conv2d(cin, cout, kernel_size: k, stride: stride, padding: pad, bias: true);

    /// <summary>Transposed conv that exactly doubles the size (kernel 3, stride 2, padding 1, output_padding 1).</summary>
    public static Module<Tensor, Tensor> Up(long cin, long cout) =>
        Nn.Layers.ConvTranspose2d(cin, cout, kernel_size: 3, stride: 2, padding: 1, output_padding: 1, bias: true);

    public static Module<Tensor, Tensor> Pad(long p) => ReflectionPad2d(p);

    /// <summary>AvgPool2d(3, 2, 1, count_include_pad=False): the downsampler of the enhancer and D pyramids.</summary>
    public static Tensor Downsample(Tensor x) =>
        functional.avg_pool2d(x, kernel_size: 3, stride: 2, padding: 1, ceil_mode: false, count_include_pad: false);
}

/// <summary>Parameter-free AvgPool2d(3, 2, 1, count_include_pad=False) as a module (the reference's `downsample`).</summary>
internal sealed class Downsample3 : Module<Tensor, Tensor>
{
    public Downsample3() : base(nameof(Downsample3)) { }
    public override Tensor forward(Tensor x) => Layers.Downsample(x);
}

/// <summary>ResnetBlock: x + conv_block(x); conv_block = [reflpad1, conv3, norm, relu, reflpad1, conv3, norm].</summary>
public sealed class ResnetBlock : Module<Tensor, Tensor>
{
    private readonly Sequential conv_block;

    public ResnetBlock(long dim, NormKind norm) : base(nameof(ResnetBlock))
    {
        conv_block = Sequential(
            Layers.Pad(1), Layers.Conv(dim, dim, 3, 1, 0), Layers.Norm(norm, dim), ReLU(),
            Layers.Pad(1), Layers.Conv(dim, dim, 3, 1, 0), Layers.Norm(norm, dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => x + conv_block.forward(x);
}
