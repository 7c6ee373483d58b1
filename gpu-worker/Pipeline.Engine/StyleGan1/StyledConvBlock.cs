using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>How a generator level gets from the previous resolution to its own.</summary>
public enum StyledBlockKind
{
    /// <summary>Level 0: the learned constant.</summary>
    Initial,
    /// <summary>Nearest 2x upsample, 3x3 EqualConv2d, blur (keys conv1.1.conv.*, conv1.2.*).</summary>
    Upsample,
    /// <summary>FusedUpsample then blur (keys conv1.0.*, conv1.1.*).</summary>
    FusedUpsample,
}

/// <summary>
/// One generator level. Per layer: conv (+bias) -> + noise -> lrelu -> AdaIN. Both noise injections of a level use the
/// same noise map and both AdaINs the same w (reference quirks kept on purpose).
/// </summary>
public sealed class StyledConvBlock : nn.Module
{
    private readonly nn.Module<Tensor, Tensor> conv1;
    private readonly NoiseInjection noise1;
    private readonly AdaptiveInstanceNorm adain1;
    private readonly LRelu lrelu1;
    private readonly EqualConv2d conv2;
    private readonly NoiseInjection noise2;
    private readonly AdaptiveInstanceNorm adain2;
    private readonly LRelu lrelu2;

    public StyledConvBlock(long cin, long cout, long styleDim, StyledBlockKind kind) : base(nameof(StyledConvBlock))
    {
        conv1 = kind switch
        {
            StyledBlockKind.Initial => new ConstantInput(cout),
            StyledBlockKind.Upsample => nn.Sequential(("0", new Upsample2x()), ("1", new EqualConv2d(cin, cout, 3, 1)), ("2", new Blur(cout))),
            StyledBlockKind.FusedUpsample => nn.Sequential(("0", new FusedUpsample(cin, cout, 3, 1)), ("1", new Blur(cout))),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        noise1 = new NoiseInjection(cout);
        adain1 = new AdaptiveInstanceNorm(cout, styleDim);
        lrelu1 = new LRelu();
        conv2 = new EqualConv2d(cout, cout, 3, 1);
        noise2 = new NoiseInjection(cout);
        adain2 = new AdaptiveInstanceNorm(cout, styleDim);
        lrelu2 = new LRelu();
        RegisterComponents();
    }

    /// <summary>h: previous features (initial level: only its batch size is used); w: [B, D]; noise: [B|1, 1, H, W].</summary>
    public Tensor Forward(Tensor h, Tensor w, Tensor noise, Action<string, Tensor>? tap = null)
    {
        var x = conv1.forward(h); tap?.Invoke("conv1", x);
        x = noise1.forward(x, noise); tap?.Invoke("noise1", x);
        x = lrelu1.forward(x); tap?.Invoke("lrelu1", x);
        x = adain1.forward(x, w); tap?.Invoke("adain1", x);
        x = conv2.forward(x); tap?.Invoke("conv2", x);
        x = noise2.forward(x, noise); tap?.Invoke("noise2", x);
        x = lrelu2.forward(x); tap?.Invoke("lrelu2", x);
        x = adain2.forward(x, w); tap?.Invoke("adain2", x);
        return x;
    }
}
