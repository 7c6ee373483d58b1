using Pipeline.Engine.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>ConvLayer of the reference: a Sequential [Blur] + EqualConv2d + [FusedLeakyReLU], keys .0/.1/.2.</summary>
public static class ConvLayer
{
    public static Sequential Create(long inChannel, long outChannel, long kernelSize, bool downsample = false,
        bool bias = true, bool activate = true, float[]? blurKernel = null)
    {
        blurKernel ??= Ops.DefaultBlur;
        var layers = new List<nn.Module<Tensor, Tensor>>();
        long stride = 1, padding = kernelSize / 2;
        if (downsample)
        {
            int p = blurKernel.Length - 2 + ((int)kernelSize - 1);
            layers.Add(new Blur(blurKernel, ((p + 1) / 2, p / 2)));
            stride = 2;
            padding = 0;
        }
        layers.Add(new EqualConv2d(inChannel, outChannel, kernelSize, stride, padding, bias: bias && !activate));
        if (activate)
            layers.Add(bias ? new FusedLeakyReLU(outChannel) : new ScaledLeakyReLU());
        return nn.Sequential(layers.Select((m, i) => (i.ToString(), m)));
    }
}

/// <summary>Residual block: (conv2(conv1(x)) + skip(x)) / sqrt(2), spatial size halves.</summary>
public sealed class ResBlock : nn.Module<Tensor, Tensor>
{
    private readonly Sequential conv1, conv2, skip;

    public ResBlock(long inChannel, long outChannel, float[]? blurKernel = null) : base(nameof(ResBlock))
    {
        conv1 = ConvLayer.Create(inChannel, inChannel, 3, blurKernel: blurKernel);
        conv2 = ConvLayer.Create(inChannel, outChannel, 3, downsample: true, blurKernel: blurKernel);
        skip = ConvLayer.Create(inChannel, outChannel, 1, downsample: true, activate: false, bias: false, blurKernel: blurKernel);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => (conv2.forward(conv1.forward(input)) + skip.forward(input)) / Ops.Sqrt2;
}

/// <summary>rosinality's Discriminator (residual, minibatch stddev). Returns raw logits [B, 1].</summary>
public sealed class Discriminator : nn.Module<Tensor, Tensor>
{
    private readonly Sequential convs;
    private readonly Sequential final_conv;
    private readonly Sequential final_linear;
    private readonly int _stddevGroup = 4;
    private readonly int _stddevFeat = 1;

    public Discriminator(DiscriminatorConfig config, float[]? blurKernel = null) : base(nameof(Discriminator))
    {
        Config = config;
        int log = config.LogSize;
        var blocks = new List<(string, nn.Module<Tensor, Tensor>)> { ("0", ConvLayer.Create(3, config.ChannelsAt(config.Size), 1)) };
        int inCh = config.ChannelsAt(config.Size);
        for (int i = log, k = 1; i > 2; i--, k++)
        {
            int outCh = config.ChannelsAt(1 << (i - 1));
            blocks.Add((k.ToString(), new ResBlock(inCh, outCh, blurKernel)));
            inCh = outCh;
        }
        convs = nn.Sequential(blocks);
        int c4 = config.ChannelsAt(4);
        final_conv = ConvLayer.Create(inCh + 1, c4, 3);
        final_linear = nn.Sequential(
            ("0", (nn.Module<Tensor, Tensor>)new EqualLinear(c4 * 4 * 4, c4, fusedLrelu: true)),
            ("1", new EqualLinear(c4, 1)));
        RegisterComponents();
    }

    public DiscriminatorConfig Config { get; }

    /// <summary>Builds a discriminator shaped like the state_dict and loads it strictly.</summary>
    public static Discriminator FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict, string? what = null)
    {
        var d = new Discriminator(DiscriminatorConfig.FromStateDict(stateDict));
        StateDicts.Load(d, stateDict, strict: true, what: what ?? "StyleGAN2 discriminator");
        d.eval();
        return d;
    }

    /// <summary>FromRGB + ResBlocks: [B, C4, 4, 4].</summary>
    public Tensor Features(Tensor input) => convs.forward(input);

    /// <summary>
    /// Appends the minibatch-stddev channel. Groups are strided: sample b pools with every b' where b % (B/G) == b' % (B/G).
    /// </summary>
    public Tensor AppendStddev(Tensor o)
    {
        long b = o.shape[0], c = o.shape[1], h = o.shape[2], w = o.shape[3];
        long group = Math.Min(b, _stddevGroup);
        if (b % group != 0) throw new ArgumentException($"discriminator batch {b} must be divisible by min(batch, {_stddevGroup})");
        var s = o.view(group, -1, _stddevFeat, c / _stddevFeat, h, w);
        s = (s.var(0, unbiased: false) + 1e-8).sqrt();
        s = s.mean([2, 3, 4], keepdim: true).squeeze(2);
        s = s.repeat(group, 1, h, w);
        return cat([o, s], 1);
    }

    public Tensor FinalConv(Tensor withStddev) => final_conv.forward(withStddev);

    public override Tensor forward(Tensor input)
    {
        var o = FinalConv(AppendStddev(Features(input)));
        return final_linear.forward(o.view(o.shape[0], -1));
    }
}
