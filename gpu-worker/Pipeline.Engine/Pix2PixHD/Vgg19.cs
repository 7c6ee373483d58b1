using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>
/// torchvision VGG19 `features[0..29]` cut into the reference's five slices (relu1_1 .. relu5_1), registered as
/// `slice{k}.{features index}` like the reference's Vgg19 module. Frozen: parameters never require grad.
/// </summary>
public sealed class Vgg19 : Module<Tensor, Tensor[]>
{
    private readonly Sequential slice1, slice2, slice3, slice4, slice5;

    /// <summary>(features index, in, out) of the 13 convs used; ReLU at index+1, max-pools at 4, 9, 18, 27.</summary>
    public static readonly IReadOnlyList<(int Index, int In, int Out)> Convs =
    [
        (0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256), (14, 256, 256),
        (16, 256, 256), (19, 256, 512), (21, 512, 512), (23, 512, 512), (25, 512, 512), (28, 512, 512),
    ];

    private static readonly int[] Pools = [4, 9, 18, 27];
    private static readonly (int From, int To)[] SliceRanges = [(0, 2), (2, 7), (7, 12), (12, 21), (21, 30)];

    public Vgg19() : base(nameof(Vgg19))
    {
        var slices = new Sequential[5];
        for (int s = 0; s < 5; s++)
        {
            var named = new List<(string, Module<Tensor, Tensor>)>();
            for (int i = SliceRanges[s].From; i < SliceRanges[s].To; i++) named.Add((i.ToString(), Layer(i)));
            slices[s] = Sequential(named);
        }
        (slice1, slice2, slice3, slice4, slice5) = (slices[0], slices[1], slices[2], slices[3], slices[4]);
        RegisterComponents();
        foreach (var p in parameters()) p.requires_grad = false;
    }

    private static Module<Tensor, Tensor> Layer(int index)
    {
        foreach (var (i, cin, cout) in Convs)
            if (i == index) return Nn.Layers.Conv2d(cin, cout, 3, stride: 1, padding: 1, bias: true);
        if (Pools.Contains(index)) return MaxPool2d(2, 2);
        return ReLU();
    }

    /// <summary>The five slice outputs h_relu1 .. h_relu5.</summary>
    public override Tensor[] forward(Tensor x)
    {
        var h1 = slice1.forward(x);
        var h2 = slice2.forward(h1);
        var h3 = slice3.forward(h2);
        var h4 = slice4.forward(h3);
        var h5 = slice5.forward(h4);
        return [h1, h2, h3, h4, h5];
    }

    /// <summary>Loads torchvision's VGG19 weights (keys `features.{idx}.weight/bias`; other keys ignored).</summary>
    public void LoadTorchvision(IReadOnlyDictionary<string, Tensor> sd)
    {
        var mapped = new Dictionary<string, Tensor>();
        for (int s = 0; s < 5; s++)
            foreach (var (i, _, _) in Convs)
                if (i >= SliceRanges[s].From && i < SliceRanges[s].To)
                    foreach (var p in new[] { "weight", "bias" })
                    {
                        var key = $"features.{i}.{p}";
                        if (!sd.TryGetValue(key, out var t) && !sd.TryGetValue($"slice{s + 1}.{i}.{p}", out t))
                            throw new InvalidDataException($"VGG19 weights lack '{key}' (expected torchvision's vgg19 state_dict, e.g. vgg19-dcbb9e9d.pth)");
                        mapped[$"slice{s + 1}.{i}.{p}"] = t;
                    }
        IO.StateDicts.Load(this, mapped, strict: true, what: "VGG19 features");
    }

    /// <summary>
    /// The deterministic hash weights the parity fixtures use instead of ImageNet weights (spec 9.3). Never for production.
    /// </summary>
    public void LoadHashWeights()
    {
        var sd = new Dictionary<string, Tensor>();
        foreach (var (i, cin, cout) in Convs)
        {
            double fanIn = cin * 9.0;
            var w = new float[cout * cin * 9];
            uint saltW = unchecked((uint)(2 * i + 1) * 0x85EBCA77u), saltB = unchecked((uint)(2 * i + 2) * 0x85EBCA77u);
            for (int n = 0; n < w.Length; n++) w[n] = (float)((2 * Hash01((uint)n, saltW) - 1) * Math.Sqrt(6.0 / fanIn));
            var b = new float[cout];
            for (int n = 0; n < b.Length; n++) b[n] = (float)((2 * Hash01((uint)n, saltB) - 1) * 0.1);
            sd[$"features.{i}.weight"] = tensor(w, [cout, cin, 3, 3]);
            sd[$"features.{i}.bias"] = tensor(b, [cout]);
        }
        LoadTorchvision(sd);
    }

    private static double Hash01(uint n, uint salt)
    {
        uint x = unchecked(n * 0x9E3779B1u + salt);
        x ^= x >> 16; x = unchecked(x * 0x7FEB352Du);
        x ^= x >> 15; x = unchecked(x * 0x846CA68Bu);
        x ^= x >> 16;
        return (x >> 8) / 16777216.0;
    }
}
