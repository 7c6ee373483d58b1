using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>Shape of a multiscale discriminator (spec 6).</summary>
public sealed record DiscriminatorConfig(int InputNc, int Ndf, int NLayers, NormKind Norm, bool UseSigmoid, int NumD, bool GetIntermFeat)
{
    public static DiscriminatorConfig From(Pix2PixHDOptions o) =>
        new(o.NetDInputNc, o.Ndf, o.NLayersD, o.Norm, o.NoLsgan, o.NumD, !o.NoGanFeatLoss);
}

/// <summary>
/// The reference's MultiscaleDiscriminator: num_D NLayerDiscriminators registered as `scale{i}_layer{j}` (one Sequential
/// per layer group, getIntermFeat) or `layer{i}` (all groups flattened). result[i] is computed on the input downsampled
/// i times by discriminator num_D-1-i (quirk Q4); each result is the list of group outputs (or only the final map).
/// </summary>
public sealed class MultiscaleDiscriminator : Module<Tensor, List<List<Tensor>>>
{
    private readonly List<List<Sequential>> scales = []; // [discriminator index][group]

    public DiscriminatorConfig Config { get; }

    public MultiscaleDiscriminator(DiscriminatorConfig config) : base(nameof(MultiscaleDiscriminator))
    {
        Config = config;
        for (int i = 0; i < config.NumD; i++) scales.Add(BuildGroups(config));
        RegisterComponents();
        for (int i = 0; i < config.NumD; i++)
        {
            if (config.GetIntermFeat)
                for (int j = 0; j < scales[i].Count; j++) register_module($"scale{i}_layer{j}", scales[i][j]);
            else
                register_module($"layer{i}", scales[i][0]);
        }
    }

    /// <summary>
    /// Groups of one NLayerDiscriminator (spec 6.1): conv k4 p2 everywhere, stride 2 except the last two convs.
    /// Without getIntermFeat they are flattened into one Sequential (keys `layer{i}.{0|2+3(k-1)|2+3n}`).
    /// </summary>
    private static List<Sequential> BuildGroups(DiscriminatorConfig c)
    {
        var groups = new List<List<Module<Tensor, Tensor>>>
        {
            new() { Layers.Conv(c.InputNc, c.Ndf, 4, 2, 2), LeakyReLU(0.2) },
        };
        long nf = c.Ndf;
        for (int k = 1; k < c.NLayers; k++)
        {
            long prev = nf;
            nf = Math.Min(nf * 2, 512);
            groups.Add([Layers.Conv(prev, nf, 4, 2, 2), Layers.Norm(c.Norm, nf), LeakyReLU(0.2)]);
        }
        {
            long prev = nf;
            nf = Math.Min(nf * 2, 512);
            groups.Add([Layers.Conv(prev, nf, 4, 1, 2), Layers.Norm(c.Norm, nf), LeakyReLU(0.2)]);
        }
        groups.Add([Layers.Conv(nf, 1, 4, 1, 2)]);
        // The sigmoid group is never registered nor run with getIntermFeat (quirk Q5).
        if (c.GetIntermFeat) return groups.Select(g => Sequential(g)).ToList();
        var flat = groups.SelectMany(g => g).ToList();
        if (c.UseSigmoid) flat.Add(Sigmoid());
        return [Sequential(flat)];
    }

    public override List<List<Tensor>> forward(Tensor x)
    {
        var result = new List<List<Tensor>>();
        var input = x;
        for (int i = 0; i < Config.NumD; i++)
        {
            var groups = scales[Config.NumD - 1 - i];
            var outputs = new List<Tensor>();
            var h = input;
            foreach (var g in groups)
            {
                h = g.forward(h);
                outputs.Add(h);
            }
            result.Add(outputs);
            if (i != Config.NumD - 1) input = Layers.Downsample(input);
        }
        return result;
    }
}
