using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Layers = Pipeline.Engine.Nn.Layers;

namespace Pipeline.Engine.Council;

/// <summary>Shared pieces of the two multi-scale discriminators.</summary>
internal static class MultiScale
{
    /// <summary>The input of the next scale: AvgPool2d(3, stride 2, pad 1) averaging only in-image pixels.</summary>
    public static Tensor Down(Tensor x) =>
        nn.functional.avg_pool2d(x, 3, stride: 2, padding: 1, count_include_pad: false);

    public static void Check(DisOptions o)
    {
        if (o.GanType != "lsgan")
            throw new CouncilConfigException($"dis.gan_type '{o.GanType}' is not supported (the engine implements lsgan)");
        if (o.NumScales < 1 || o.NLayer < 1 || o.Dim < 1)
            throw new CouncilConfigException($"invalid discriminator options {o}");
    }
}

/// <summary>
/// D (<c>MsImageDis</c>): per scale k4/s2 convs (lrelu) then a 1×1 conv to a patch map; each scale sees the
/// previous scale's input average-pooled. State-dict keys <c>cnns.s.l.conv.*</c> and <c>cnns.s.(n_layer).*</c>.
/// </summary>
public sealed class MsImageDis : nn.Module<Tensor, Tensor[]>
{
    private readonly ModuleList<Sequential> cnns;

    public DisOptions Options { get; }

    public MsImageDis(DisOptions o) : base("MsImageDis")
    {
        MultiScale.Check(o);
        Options = o;
        cnns = new ModuleList<Sequential>();
        for (int s = 0; s < o.NumScales; s++)
        {
            var net = nn.Sequential();
            long c = o.Dim;
            net.append(new Conv2dBlock(o.InputDim, c, 4, 2, 1, "none", o.Activ, o.PadType));
            for (int l = 1; l < o.NLayer; l++, c *= 2) net.append(new Conv2dBlock(c, 2 * c, 4, 2, 1, o.Norm, o.Activ, o.PadType));
            net.append(Layers.Conv2d(c, 1, 1));
            cnns.append(net);
        }
        RegisterComponents();
    }

    /// <summary>One patch map per scale, scale 0 first.</summary>
    public override Tensor[] forward(Tensor x) => Run(x, null);

    /// <summary>As <see cref="forward"/>; <paramref name="pooled"/> receives the input each scale saw.</summary>
    public Tensor[] Run(Tensor x, IList<Tensor>? pooled)
    {
        var outs = new Tensor[cnns.Count];
        for (int s = 0; s < cnns.Count; s++)
        {
            if (s > 0) x = MultiScale.Down(x);
            pooled?.Add(x);
            outs[s] = cnns[s].forward(x);
        }
        return outs;
    }
}

/// <summary>
/// \hat D (<c>MsImageDisCouncil</c>): judges y conditioned on the generator input x. Each scale sees [y, x]
/// (6 channels, y first), starts with a k3/s1 conv, and ends with two 1×1 convs without activation between them.
/// </summary>
public sealed class MsImageDisCouncil : nn.Module<Tensor, Tensor, Tensor[]>
{
    private readonly ModuleList<Sequential> cnns;

    public DisOptions Options { get; }

    public MsImageDisCouncil(DisOptions o, int conditionDim = 3) : base("MsImageDisCouncil")
    {
        MultiScale.Check(o);
        Options = o;
        cnns = new ModuleList<Sequential>();
        for (int s = 0; s < o.NumScales; s++)
        {
            var net = nn.Sequential();
            long c = o.Dim;
            net.append(new Conv2dBlock(o.InputDim + conditionDim, c, 3, 1, 1, "none", o.Activ, o.PadType));
            for (int l = 1; l < o.NLayer; l++, c *= 2) net.append(new Conv2dBlock(c, 2 * c, 4, 2, 1, o.Norm, o.Activ, o.PadType));
            net.append(Layers.Conv2d(c, c, 1));
            net.append(Layers.Conv2d(c, 1, 1));
            cnns.append(net);
        }
        RegisterComponents();
    }

    /// <summary>One patch map per scale for the judged image <paramref name="y"/> given the input <paramref name="x"/>.</summary>
    public override Tensor[] forward(Tensor y, Tensor x)
    {
        var outs = new Tensor[cnns.Count];
        for (int s = 0; s < cnns.Count; s++)
        {
            if (s > 0)
            {
                y = MultiScale.Down(y);
                x = MultiScale.Down(x);
            }
            outs[s] = cnns[s].forward(cat([y, x], 1));
        }
        return outs;
    }
}
