using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Layers = Pipeline.Engine.Nn.Layers;

namespace Pipeline.Engine.Council;

/// <summary>Style encoder (<c>enc_style</c>): fixed depth of 4 stride-2 convs, global pool, 1×1 conv. Unused for translation.</summary>
public sealed class StyleEncoder : nn.Module<Tensor, Tensor>
{
    private readonly Sequential model;

    public StyleEncoder(GenOptions o) : base("StyleEncoder")
    {
        const int depth = 4;
        model = nn.Sequential();
        long c = o.Dim;
        model.append(new Conv2dBlock(o.InputDim, c, 7, 1, 3, "none", o.Activ, o.PadType));
        for (int i = 0; i < 2; i++, c *= 2) model.append(new Conv2dBlock(c, 2 * c, 4, 2, 1, "none", o.Activ, o.PadType));
        for (int i = 0; i < depth - 2; i++) model.append(new Conv2dBlock(c, c, 4, 2, 1, "none", o.Activ, o.PadType));
        model.append(nn.AdaptiveAvgPool2d(1));
        model.append(Layers.Conv2d(c, o.StyleDim, 1));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => model.forward(x);
}

/// <summary>Content encoder (<c>enc_content</c>): instance-normalised convs down by 2^n, then n_res residual blocks.</summary>
public sealed class ContentEncoder : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<AdaStage> model;

    public ContentEncoder(GenOptions o) : base("ContentEncoder")
    {
        model = new ModuleList<AdaStage>();
        long c = o.Dim;
        model.append(new Conv2dBlock(o.InputDim, c, 7, 1, 3, "in", o.Activ, o.PadType));
        for (int i = 0; i < o.NDownsample; i++, c *= 2) model.append(new Conv2dBlock(c, 2 * c, 4, 2, 1, "in", o.Activ, o.PadType));
        model.append(new ResBlocks(o.NRes, c, "in", o.Activ, o.PadType));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Run(x, null);

    /// <summary>Runs the encoder; <paramref name="taps"/> (if given) receives every stage's output.</summary>
    public Tensor Run(Tensor x, IList<Tensor>? taps)
    {
        foreach (var stage in model)
        {
            x = stage.Run(x, null);
            taps?.Add(x);
        }
        return x;
    }
}

/// <summary>
/// <c>Decoder_V2_atten</c>: AdaIN residual blocks, nearest ×2 + two AdaIN convs per up-sampling stage, two 1×1
/// convs, and a tanh head with M candidate images and M masks that are blended over the generator's input.
/// </summary>
public sealed class AttentionDecoder : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<AdaStage> model;
    private readonly int _numMasks, _outDim;

    public AttentionDecoder(GenOptions o) : base("Decoder_V2_atten")
    {
        _numMasks = o.NumMasks;
        _outDim = o.InputDim;
        if (_numMasks < 1) throw new CouncilConfigException($"gen.num_of_mask_dim_to_add must be at least 1, got {_numMasks}");
        model = new ModuleList<AdaStage>();
        long c = o.ContentDim;
        model.append(new ResBlocks(o.NRes, c, "adain", o.Activ, o.PadType));
        for (int u = 0; u < o.NDownsample; u++, c /= 2)
        {
            model.append(new Upsample2x());
            model.append(new Conv2dBlock(c, c / 2, 3, 1, 1, "adain", o.Activ, o.PadType));
            model.append(new Conv2dBlock(c / 2, c / 2, 3, 1, 1, "adain", o.Activ, o.PadType));
        }
        model.append(new Conv2dBlock(c, c, 1, 1, 0, "none", o.Activ, o.PadType));
        model.append(new Conv2dBlock(c, c, 1, 1, 0, "none", o.Activ, o.PadType));
        model.append(new Conv2dBlock(c, _outDim * _numMasks + _numMasks, 1, 1, 0, "none", "tanh", o.PadType));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => throw new InvalidOperationException("the decoder needs AdaIN parameters and the input image: call Run");

    /// <summary>
    /// Decodes <paramref name="content"/> with per-sample AdaIN <paramref name="adainParams"/> (B, N) and blends
    /// the candidates over <paramref name="input"/>. <paramref name="mask"/> gets the display mask when requested.
    /// </summary>
    public Tensor Run(Tensor content, Tensor adainParams, Tensor input, bool returnMask, out Tensor? mask, IList<Tensor>? taps = null)
    {
        var cursor = new AdaInCursor(adainParams);
        var x = content;
        foreach (var stage in model)
        {
            x = stage.Run(x, cursor);
            taps?.Add(x);
        }
        if (cursor.Offset != adainParams.shape[1])
            throw new InvalidOperationException($"the decoder consumed {cursor.Offset} AdaIN numbers but the MLP gives {adainParams.shape[1]}");
        if (!x.shape.Skip(2).SequenceEqual(input.shape.Skip(2)))
            throw new ArgumentException($"decoder output {string.Join('x', x.shape.Skip(2))} does not match the input {string.Join('x', input.shape.Skip(2))}: height and width must be divisible by 2^n_downsample");

        int m = _numMasks, d = _outDim;
        // The last M channels were tanh-ed by the head already; the reference squashes them again.
        var masks = (x.narrow(1, d * m, m).mul(10).tanh() + 1) / 2;
        var im = input;
        for (int k = 0; k < m; k++)
        {
            var mk = masks.narrow(1, k, 1);
            im = (1 - mk) * im + mk * x.narrow(1, d * k, d);
        }
        mask = !returnMask ? null : m == 3 ? masks : masks.mean([1], keepdim: true).expand(-1, 3, -1, -1).contiguous();
        return im;
    }
}

/// <summary>The MLP turning z into the decoder's AdaIN parameters (3 linear blocks, last without activation).</summary>
public sealed class AdaInMlp : nn.Module<Tensor, Tensor>
{
    private readonly Sequential model;

    public AdaInMlp(GenOptions o) : base("MLP")
    {
        model = nn.Sequential(
            new LinearBlock(o.StyleDim, o.MlpDim, o.Activ),
            new LinearBlock(o.MlpDim, o.MlpDim, o.Activ),
            new LinearBlock(o.MlpDim, o.NumAdaInParams, "none"));
        RegisterComponents();
    }

    public override Tensor forward(Tensor z) => model.forward(z.reshape(z.shape[0], -1));
}

/// <summary>
/// One Council-GAN generator (<c>AdaINGen</c> with <c>Decoder_V2_atten</c>). Field names give the reference's
/// state-dict keys (enc_style, enc_content, dec, mlp). Translation: out = dec(enc_content(x), mlp(z), x).
/// </summary>
public sealed class CouncilGenerator : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly StyleEncoder enc_style;
    private readonly ContentEncoder enc_content;
    private readonly AttentionDecoder dec;
    private readonly AdaInMlp mlp;

    public GenOptions Options { get; }

    public CouncilGenerator(GenOptions options) : base("AdaINGen")
    {
        Options = options;
        if (options.Dim <= 0 || options.StyleDim <= 0 || options.MlpDim <= 0 || options.NDownsample < 0 || options.NRes < 0)
            throw new CouncilConfigException($"invalid generator options {options}");
        enc_style = new StyleEncoder(options);
        enc_content = new ContentEncoder(options);
        dec = new AttentionDecoder(options);
        mlp = new AdaInMlp(options);
        RegisterComponents();
    }

    /// <summary>The style encoder's output (B, style_dim, 1, 1); computed by the reference, used by nothing here.</summary>
    public Tensor EncodeStyle(Tensor x) => enc_style.forward(x);

    /// <summary>Content code (B, dim·2^n, H/2^n, W/2^n); <paramref name="taps"/> receives each encoder stage.</summary>
    public Tensor EncodeContent(Tensor x, IList<Tensor>? taps = null) => enc_content.Run(x, taps);

    /// <summary>Per-sample AdaIN parameters (B, N_adain) for z of shape (B, style_dim[, 1, 1]).</summary>
    public Tensor AdaInParams(Tensor z)
    {
        if (z.shape[0] == 0 || z.numel() / z.shape[0] != Options.StyleDim)
            throw new ArgumentException($"z must hold style_dim = {Options.StyleDim} numbers per sample, got shape [{string.Join(", ", z.shape)}]");
        return mlp.forward(z);
    }

    /// <summary>Decodes and blends over <paramref name="input"/> (the generator's own input image).</summary>
    public Tensor Decode(Tensor content, Tensor adainParams, Tensor input, IList<Tensor>? taps = null) =>
        dec.Run(content, adainParams, input, false, out _, taps);

    /// <summary>Decode that also returns the display mask (the M masks if M = 3, else their mean ×3 channels).</summary>
    public Tensor Decode(Tensor content, Tensor adainParams, Tensor input, out Tensor mask, IList<Tensor>? taps = null)
    {
        var y = dec.Run(content, adainParams, input, true, out var m, taps);
        mask = m!;
        return y;
    }

    /// <summary>Translates x (B, C, H, W) in [-1, 1] with style codes z (B, style_dim, 1, 1).</summary>
    public override Tensor forward(Tensor x, Tensor z) => Decode(EncodeContent(x), AdaInParams(z), x);
}
