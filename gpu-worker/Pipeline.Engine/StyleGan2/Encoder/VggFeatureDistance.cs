using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics.Lpips;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2.Encoder;

/// <summary>
/// Perceptual distance for when the VGG16 trunk is present but the LPIPS heads are not: the mean over the five
/// LPIPS layers of the squared difference of channel-normalised VGG features (LPIPS with every head weight = 1).
/// </summary>
public sealed class VggFeatureDistance : nn.Module<Tensor, Tensor, Tensor>, IPerceptualLoss
{
    private readonly ScalingLayer scaling_layer;
    private readonly Vgg16Slices net;

    public VggFeatureDistance(IEnumerable<KeyValuePair<string, Tensor>> torchvisionVgg16) : base(nameof(VggFeatureDistance))
    {
        scaling_layer = new ScalingLayer();
        net = new Vgg16Slices();
        RegisterComponents();
        StateDicts.Load(net, Vgg16Slices.FromTorchvision(torchvisionVgg16), strict: true, what: "VGG16 trunk");
        eval();
        // A fixed metric: gradients go to the images only.
        foreach (var p in parameters()) p.requires_grad = false;
    }

    public override Tensor forward(Tensor a, Tensor b) => Distance(a, b);

    /// <summary>[N] distances for NCHW images in [-1, 1].</summary>
    public Tensor Distance(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var fa = net.forward(scaling_layer.forward(a));
        var fb = net.forward(scaling_layer.forward(b));
        Tensor? sum = null;
        for (int l = 0; l < fa.Length; l++)
        {
            var na = fa[l] / (fa[l].square().sum(1, keepdim: true).sqrt() + 1e-10);
            var nb = fb[l] / (fb[l].square().sum(1, keepdim: true).sqrt() + 1e-10);
            var term = (na - nb).square().sum(1).mean([1, 2]);
            sum = sum is null ? term : sum + term;
        }
        return scope.MoveToOuter(sum! / fa.Length);
    }
}
