using Pipeline.Engine.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics.Lpips;

/// <summary>
/// LPIPS v0.1 with the VGG16 trunk (PerceptualSimilarity lpips.LPIPS(net="vgg", version="0.1"), and rosinality's
/// identical copy). State_dict keys: scaling_layer.{shift,scale}, net.slice&lt;k&gt;.&lt;i&gt;.{weight,bias},
/// lin&lt;l&gt;.model.1.weight. Differentiable: use it as a loss (<see cref="IPerceptualLoss"/>) or a distance.
/// </summary>
public sealed class LpipsVgg : nn.Module<Tensor, Tensor, Tensor>, IPerceptualLoss
{
    private const double NormEps = 1e-10;
    private static readonly long[] Channels = [64, 128, 256, 512, 512];

    private readonly ScalingLayer scaling_layer;
    private readonly Vgg16Slices net;
    private readonly NetLinLayer lin0, lin1, lin2, lin3, lin4;

    public LpipsVgg() : base(nameof(LpipsVgg))
    {
        scaling_layer = new ScalingLayer();
        net = new Vgg16Slices();
        lin0 = new NetLinLayer(Channels[0]);
        lin1 = new NetLinLayer(Channels[1]);
        lin2 = new NetLinLayer(Channels[2]);
        lin3 = new NetLinLayer(Channels[3]);
        lin4 = new NetLinLayer(Channels[4]);
        RegisterComponents();
        eval();
        // LPIPS is a fixed metric: its weights never train, but gradients flow to the inputs.
        foreach (var p in parameters()) p.requires_grad = false;
    }

    /// <summary>
    /// Loads torchvision VGG16 weights (`features.*`, e.g. vgg16-397923af.pth) and the v0.1 linear heads
    /// (`lin&lt;l&gt;.model.1.weight`, vgg.pth / lin_vgg_v0.1.pth). Strict: a missing key is an error (the reference
    /// loads the heads with strict=False, which silently keeps random heads on a wrong file).
    /// </summary>
    public void LoadWeights(IEnumerable<KeyValuePair<string, Tensor>> torchvisionVgg16, IEnumerable<KeyValuePair<string, Tensor>> linHeads)
    {
        var sd = new OrderedDictionary<string, Tensor>();
        foreach (var (k, v) in Vgg16Slices.FromTorchvision(torchvisionVgg16)) sd["net." + k] = v;
        foreach (var (k, v) in linHeads) sd[k] = v;
        StateDicts.Load(this, sd, strict: true, ignore: k => k.StartsWith("scaling_layer.", StringComparison.Ordinal), what: "LPIPS v0.1 (vgg)");
    }

    /// <summary>LPIPS(in0, in1) with shape [N, 1, 1, 1]; inputs in [-1, 1] (or [0, 1] with <paramref name="normalize"/>).</summary>
    public override Tensor forward(Tensor in0, Tensor in1) => Compute(in0, in1, normalize: false);

    public Tensor Compute(Tensor in0, Tensor in1, bool normalize)
    {
        var layers = PerLayer(in0, in1, normalize);
        var sum = layers[0];
        for (int l = 1; l < layers.Length; l++) sum = sum + layers[l];
        return sum;
    }

    /// <summary>The five spatially averaged layer terms (each [N, 1, 1, 1], relu1_2..relu5_3) whose sum is LPIPS.</summary>
    public Tensor[] PerLayer(Tensor in0, Tensor in1, bool normalize = false)
    {
        if (in0.shape[2] < 16 || in0.shape[3] < 16)
            throw new ArgumentException($"LPIPS-VGG needs images of at least 16x16 (relu5_3 is H/16); got {in0.shape[2]}x{in0.shape[3]}");
        if (normalize)
        {
            in0 = in0 * 2 - 1;
            in1 = in1 * 2 - 1;
        }
        // One trunk pass for both inputs: half the kernel launches on GPU.
        long n = in0.shape[0];
        var feats = net.forward(scaling_layer.forward(cat([in0, in1], 0)));
        var lins = new[] { lin0, lin1, lin2, lin3, lin4 };
        var result = new Tensor[feats.Length];
        for (int l = 0; l < feats.Length; l++)
        {
            var f = UnitNormalize(feats[l]);
            var d = (f[..(int)n] - f[(int)n..]).square();
            result[l] = lins[l].forward(d).mean([2, 3], keepdim: true);
        }
        return result;
    }

    /// <summary>IPerceptualLoss: one distance per batch item ([N]), inputs in [-1, 1].</summary>
    public Tensor Distance(Tensor a, Tensor b) => Compute(a, b, normalize: false).flatten();

    private static Tensor UnitNormalize(Tensor f) => f / (f.square().sum(1, keepdim: true).sqrt() + NormEps);
}
