using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Layers = Pipeline.Engine.Nn.Layers;

namespace Pipeline.Engine.Metrics.Lpips;

/// <summary>LPIPS v0.1 ScalingLayer: (x - shift) / scale per RGB channel (ImageNet statistics re-expressed for [-1, 1]).</summary>
public sealed class ScalingLayer : nn.Module<Tensor, Tensor>
{
    private readonly Tensor shift;
    private readonly Tensor scale;

    public ScalingLayer() : base(nameof(ScalingLayer))
    {
        // Detached from any caller's dispose scope: the buffers live as long as the module.
        shift = tensor(new float[] { -0.030f, -0.088f, -0.188f }).reshape(1, 3, 1, 1).DetachFromDisposeScope();
        scale = tensor(new float[] { 0.458f, 0.448f, 0.450f }).reshape(1, 3, 1, 1).DetachFromDisposeScope();
        register_buffer("shift", shift);
        register_buffer("scale", scale);
    }

    public override Tensor forward(Tensor x) => (x - shift) / scale;
}

/// <summary>torchvision VGG16 `features[0..29]` cut into LPIPS's five slices; the indices are torchvision's, so
/// `features.&lt;i&gt;.*` maps onto `slice&lt;k&gt;.&lt;i&gt;.*`.</summary>
public sealed class Vgg16Slices : nn.Module<Tensor, Tensor[]>
{
    /// <summary>First torchvision index of each slice (slice k covers [Bounds[k-1], Bounds[k])).</summary>
    public static readonly int[] Bounds = [0, 4, 9, 16, 23, 30];
    private static readonly (int Index, int In, int Out)[] Convs =
    [
        (0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256),
        (17, 256, 512), (19, 512, 512), (21, 512, 512), (24, 512, 512), (26, 512, 512), (28, 512, 512),
    ];
    private static readonly int[] Pools = [4, 9, 16, 23];

    private readonly Sequential slice1, slice2, slice3, slice4, slice5;

    public Vgg16Slices() : base(nameof(Vgg16Slices))
    {
        var slices = new Sequential[5];
        for (int k = 0; k < 5; k++)
        {
            var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int i = Bounds[k]; i < Bounds[k + 1]; i++)
            {
                var conv = Array.FindIndex(Convs, c => c.Index == i);
                nn.Module<Tensor, Tensor> m = conv >= 0 ? Layers.Conv2d(Convs[conv].In, Convs[conv].Out, 3, padding: 1)
                    : Pools.Contains(i) ? nn.MaxPool2d(2, 2) : nn.ReLU();
                layers.Add((i.ToString(System.Globalization.CultureInfo.InvariantCulture), m));
            }
            slices[k] = nn.Sequential(layers);
        }
        (slice1, slice2, slice3, slice4, slice5) = (slices[0], slices[1], slices[2], slices[3], slices[4]);
        RegisterComponents();
    }

    /// <summary>relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.</summary>
    public override Tensor[] forward(Tensor x)
    {
        var h1 = slice1.forward(x);
        var h2 = slice2.forward(h1);
        var h3 = slice3.forward(h2);
        var h4 = slice4.forward(h3);
        var h5 = slice5.forward(h4);
        return [h1, h2, h3, h4, h5];
    }

    /// <summary>torchvision `features.&lt;i&gt;.weight|bias` keys (vgg16-397923af.pth) renamed to slice keys; other keys dropped.</summary>
    public static OrderedDictionary<string, Tensor> FromTorchvision(IEnumerable<KeyValuePair<string, Tensor>> sd)
    {
        var r = new OrderedDictionary<string, Tensor>();
        foreach (var (key, t) in sd)
        {
            if (!key.StartsWith("features.", StringComparison.Ordinal)) continue;
            var parts = key.Split('.');
            int idx = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            if (idx >= Bounds[^1]) continue;
            int k = Array.FindLastIndex(Bounds, b => b <= idx) + 1;
            r[$"slice{k}.{idx}.{parts[2]}"] = t;
        }
        return r;
    }
}

/// <summary>NetLinLayer: Dropout (identity in eval) then a bias-free 1x1 conv C -> 1; keys `model.1.weight`.</summary>
public sealed class NetLinLayer : nn.Module<Tensor, Tensor>
{
    private readonly Sequential model;

    public NetLinLayer(long channels) : base(nameof(NetLinLayer))
    {
        model = nn.Sequential(("0", nn.Dropout()), ("1", Layers.Conv2d(channels, 1, 1, bias: false)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => model.forward(x);
}
