using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>
/// Modulated (and optionally demodulated) convolution, spec 1.8. <see cref="forward"/> takes w and applies
/// <c>modulation</c> itself (rosinality); <see cref="ForwardStyle"/> takes the already-modulated style s (SOAT).
/// </summary>
public sealed class ModulatedConv2d : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly EqualLinear modulation;
    private readonly Blur? blur;
    private readonly long _in, _out, _k;
    private readonly double _scale;

    public ModulatedConv2d(long inChannel, long outChannel, long kernelSize, long styleDim, bool demodulate = true,
        bool upsample = false, bool downsample = false, float[]? blurKernel = null) : base(nameof(ModulatedConv2d))
    {
        blurKernel ??= Ops.DefaultBlur;
        _in = inChannel;
        _out = outChannel;
        _k = kernelSize;
        Demodulate = demodulate;
        Upsampling = upsample;
        Downsampling = downsample;
        if (upsample)
        {
            int p = blurKernel.Length - 2 - ((int)kernelSize - 1);
            blur = new Blur(blurKernel, ((p + 1) / 2 + 1, p / 2 + 1), upsampleFactor: 2);
        }
        else if (downsample)
        {
            int p = blurKernel.Length - 2 + ((int)kernelSize - 1);
            blur = new Blur(blurKernel, ((p + 1) / 2, p / 2));
        }
        _scale = 1.0 / Math.Sqrt(inChannel * kernelSize * kernelSize);
        weight = new Parameter(randn([1, outChannel, inChannel, kernelSize, kernelSize]));
        modulation = new EqualLinear(styleDim, inChannel, biasInit: 1);
        RegisterComponents();
    }

    public bool Demodulate { get; }
    public bool Upsampling { get; }
    public bool Downsampling { get; }
    public long InChannels => _in;
    public long OutChannels => _out;

    /// <summary>
    /// True (reference default): one grouped convolution with a kernel set per sample. False: the reference's
    /// non-fused path (modulate the input, shared kernel, demodulate the output) — same values, and on GPUs a
    /// plain batched convolution is usually faster than a grouped one.
    /// </summary>
    public bool Fused { get; set; } = true;

    /// <summary>The style of this layer: modulation(w), [B, in_ch].</summary>
    public Tensor Style(Tensor w) => modulation.forward(w);

    public override Tensor forward(Tensor input, Tensor w) => ForwardStyle(input, Style(w));

    public Tensor ForwardStyle(Tensor input, Tensor style)
    {
        long b = input.shape[0];
        var w = weight * _scale * style.view(b, 1, _in, 1, 1); // [B, out, in, k, k]
        Tensor? demod = Demodulate ? (w.square().sum([2, 3, 4]) + 1e-8).rsqrt() : null; // [B, out]
        return Fused ? ForwardFused(input, w, demod, b) : ForwardShared(input, style, demod, b);
    }

    private Tensor ForwardFused(Tensor input, Tensor w, Tensor? demod, long b)
    {
        if (demod is not null) w = w * demod.view(b, _out, 1, 1, 1);
        long h = input.shape[2], wd = input.shape[3];
        if (Upsampling)
        {
            var x = input.reshape(1, b * _in, h, wd);
            var wt = w.transpose(1, 2).reshape(b * _in, _out, _k, _k);
            var o = nn.functional.conv_transpose2d(x, wt, null, [2, 2], [0, 0], [0, 0], [1, 1], b);
            o = o.view(b, _out, o.shape[2], o.shape[3]);
            return blur!.forward(o);
        }
        if (Downsampling)
        {
            var xb = blur!.forward(input);
            var x = xb.reshape(1, b * _in, xb.shape[2], xb.shape[3]);
            var o = nn.functional.conv2d(x, w.reshape(b * _out, _in, _k, _k), null, [2, 2], [0, 0], [1, 1], b);
            return o.view(b, _out, o.shape[2], o.shape[3]);
        }
        {
            var x = input.reshape(1, b * _in, h, wd);
            var o = nn.functional.conv2d(x, w.reshape(b * _out, _in, _k, _k), null, [1, 1], [_k / 2, _k / 2], [1, 1], b);
            return o.view(b, _out, o.shape[2], o.shape[3]);
        }
    }

    private Tensor ForwardShared(Tensor input, Tensor style, Tensor? demod, long b)
    {
        var k = weight.squeeze(0) * _scale; // [out, in, k, k]
        var x = input * style.view(b, _in, 1, 1);
        Tensor o;
        if (Upsampling)
            o = blur!.forward(nn.functional.conv_transpose2d(x, k.transpose(0, 1), null, [2, 2], [0, 0]));
        else if (Downsampling)
            o = nn.functional.conv2d(blur!.forward(x), k, null, [2, 2], [0, 0]);
        else
            o = nn.functional.conv2d(x, k, null, [1, 1], [_k / 2, _k / 2]);
        return demod is null ? o : o * demod.view(b, _out, 1, 1);
    }
}

/// <summary>x + weight * noise, noise [B or 1, 1, H, W] broadcast over channels; fresh randn when none is given.</summary>
public sealed class NoiseInjection : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Parameter weight;

    public NoiseInjection() : base(nameof(NoiseInjection))
    {
        weight = new Parameter(zeros(1));
        RegisterComponents();
    }

    public override Tensor forward(Tensor image, Tensor? noise)
    {
        noise ??= randn([image.shape[0], 1, image.shape[2], image.shape[3]], dtype: image.dtype, device: image.device);
        return image + weight * noise;
    }
}

/// <summary>The learned 4x4 constant <c>input</c> [1, C, 4, 4], repeated to the batch size.</summary>
public sealed class ConstantInput : nn.Module<long, Tensor>
{
    private readonly Parameter input;

    public ConstantInput(long channel, long size = 4) : base(nameof(ConstantInput))
    {
        input = new Parameter(randn(1, channel, size, size));
        RegisterComponents();
    }

    public long Channels => input.shape[1];

    public override Tensor forward(long batch) => input.repeat(batch, 1, 1, 1);
}

/// <summary>ModulatedConv2d (demodulated) -> NoiseInjection -> FusedLeakyReLU. Keys conv.*, noise.weight, activate.bias.</summary>
public sealed class StyledConv : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    private readonly ModulatedConv2d conv;
    private readonly NoiseInjection noise;
    private readonly FusedLeakyReLU activate;

    public StyledConv(long inChannel, long outChannel, long kernelSize, long styleDim, bool upsample = false, float[]? blurKernel = null)
        : base(nameof(StyledConv))
    {
        conv = new ModulatedConv2d(inChannel, outChannel, kernelSize, styleDim, demodulate: true, upsample: upsample, blurKernel: blurKernel);
        noise = new NoiseInjection();
        activate = new FusedLeakyReLU(outChannel);
        RegisterComponents();
    }

    public ModulatedConv2d Conv => conv;

    public override Tensor forward(Tensor input, Tensor w, Tensor? noiseInput) => ForwardStyle(input, conv.Style(w), noiseInput);

    public Tensor ForwardStyle(Tensor input, Tensor style, Tensor? noiseInput) =>
        activate.forward(noise.forward(conv.ForwardStyle(input, style), noiseInput));
}

/// <summary>1x1 modulated conv to RGB (no demodulation) + <c>bias</c>; adds the upsampled previous skip image.</summary>
public sealed class ToRGB : nn.Module<Tensor, Tensor, Tensor?, Tensor>
{
    private readonly Upsample? upsample;
    private readonly ModulatedConv2d conv;
    private readonly Parameter bias;

    public ToRGB(long inChannel, long styleDim, bool upsample = true, float[]? blurKernel = null) : base(nameof(ToRGB))
    {
        if (upsample) this.upsample = new Upsample(blurKernel ?? Ops.DefaultBlur);
        conv = new ModulatedConv2d(inChannel, 3, 1, styleDim, demodulate: false);
        bias = new Parameter(zeros(1, 3, 1, 1));
        RegisterComponents();
    }

    public ModulatedConv2d Conv => conv;

    public override Tensor forward(Tensor input, Tensor w, Tensor? skip) => ForwardStyle(input, conv.Style(w), skip);

    public Tensor ForwardStyle(Tensor input, Tensor style, Tensor? skip)
    {
        var o = conv.ForwardStyle(input, style) + bias;
        if (skip is not null)
        {
            if (upsample is null) throw new InvalidOperationException("this ToRGB was built without upsampling and takes no skip image");
            o = o + upsample.forward(skip);
        }
        return o;
    }
}
