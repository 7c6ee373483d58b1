using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics.Ppl;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>The ppl fixture's tiny stand-in generator (spec metrics.md §6.4), built from its state_dict.</summary>
internal sealed class StandInGenerator : IPplGenerator
{
    private readonly Dictionary<string, Tensor> p;
    private readonly int size;

    public StandInGenerator(string path, ScalarType dtype)
    {
        p = SafeTensors.Load(path).ToDictionary(kv => kv.Key, kv => kv.Value.to(dtype));
        int convs = p.Keys.Count(k => k.StartsWith("convs.", StringComparison.Ordinal) && k.EndsWith(".weight", StringComparison.Ordinal));
        size = 4 << convs;
        ZDim = (int)p["map1.weight"].shape[1];
    }

    public int ZDim { get; }

    public Tensor Mapping(Tensor z)
    {
        var x = z * (z.square().mean([1], keepdim: true) + 1e-8).rsqrt();
        x = F.leaky_relu(F.linear(x, p["map1.weight"], p["map1.bias"]), 0.2);
        return F.linear(x, p["map2.weight"], p["map2.bias"]);
    }

    public Tensor Synthesis(Tensor w, IReadOnlyList<Tensor> noise)
    {
        var nw = p["noise_weight"];
        long ch = nw.shape[1];
        var x = F.linear(w, p["fc.weight"], p["fc.bias"]).view(w.shape[0], ch, 4, 4);
        x = F.leaky_relu(x + nw[0].view(1, ch, 1, 1) * noise[0], 0.2);
        int i = 0;
        for (int r = 8; r <= size; r *= 2, i++)
        {
            x = F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
            x = F.conv2d(x, p[$"convs.{i}.weight"], p[$"convs.{i}.bias"], padding: [1, 1]);
            if (r <= 32) x = x + nw[i + 1].view(1, ch, 1, 1) * noise[i + 1];
            x = F.leaky_relu(x, 0.2);
        }
        return F.conv2d(x, p["to_rgb.weight"], p["to_rgb.bias"]);
    }

    public IReadOnlyList<Tensor> MakeNoise(Generator? rng)
    {
        var list = new List<Tensor>();
        for (int r = 4; r <= Math.Min(size, 32); r *= 2) list.Add(randn([1, 1, r, r], generator: rng));
        return list;
    }
}
