using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>Shape of a generator, as options or as read back from a checkpoint.</summary>
public sealed record GeneratorConfig(
    int InputNc, int OutputNc, int Ngf, int NDownsample, int NBlocks, NormKind Norm,
    bool Local = false, int NLocalEnhancers = 0, int NBlocksLocal = 0)
{
    /// <summary>Sizes the generator maps to an output of the same size (larger ones are rounded up by the global generator).</summary>
    public int SizeBase => (1 << NDownsample) * (Local ? 1 << NLocalEnhancers : 1);

    public static GeneratorConfig From(Pix2PixHDOptions o) => new(
        o.NetGInputNc, o.OutputNc, o.Ngf, o.NDownsampleGlobal, o.NBlocksGlobal, o.Norm,
        o.NetG == "local", o.NetG == "local" ? o.NLocalEnhancers : 0, o.NetG == "local" ? o.NBlocksLocal : 0);
}

/// <summary>
/// The reference's GlobalGenerator: one Sequential `model` = [reflpad3, conv7, norm, relu, n x (conv3/2, norm, relu),
/// nb x ResnetBlock, n x (convT3/2, norm, relu), reflpad3, conv7, tanh]. With <c>truncated</c> the last three modules are
/// left out, which is how the LocalEnhancer embeds it (spec 4.1, 4.2).
/// </summary>
public sealed class GlobalGenerator : Module<Tensor, Tensor>
{
    private readonly Sequential model;

    /// <summary>The layers of `model` in order (index = state_dict index), for stage-by-stage inspection.</summary>
    public IReadOnlyList<Module<Tensor, Tensor>> Stages { get; }

    public GlobalGenerator(int inputNc, int outputNc, int ngf, int nDownsampling, int nBlocks, NormKind norm, bool truncated = false)
        : base(nameof(GlobalGenerator))
    {
        var layers = BuildLayers(inputNc, outputNc, ngf, nDownsampling, nBlocks, norm, truncated);
        Stages = layers;
        model = Sequential(layers);
        RegisterComponents();
    }

    /// <summary>The layers of `model`; <paramref name="truncated"/> drops the final reflpad, conv7 and tanh.</summary>
    internal static List<Module<Tensor, Tensor>> BuildLayers(int inputNc, int outputNc, int ngf, int nDownsampling, int nBlocks, NormKind norm, bool truncated)
    {
        var layers = new List<Module<Tensor, Tensor>>
        {
            Layers.Pad(3), Layers.Conv(inputNc, ngf, 7, 1, 0), Layers.Norm(norm, ngf), ReLU(),
        };
        for (int i = 0; i < nDownsampling; i++)
        {
            long mult = 1L << i;
            layers.Add(Layers.Conv(ngf * mult, ngf * mult * 2, 3, 2, 1));
            layers.Add(Layers.Norm(norm, ngf * mult * 2));
            layers.Add(ReLU());
        }
        long top = ngf * (1L << nDownsampling);
        for (int b = 0; b < nBlocks; b++) layers.Add(new ResnetBlock(top, norm));
        for (int i = 0; i < nDownsampling; i++)
        {
            long mult = 1L << (nDownsampling - i);
            layers.Add(Layers.Up(ngf * mult, ngf * mult / 2));
            layers.Add(Layers.Norm(norm, ngf * mult / 2));
            layers.Add(ReLU());
        }
        if (!truncated)
        {
            layers.Add(Layers.Pad(3));
            layers.Add(Layers.Conv(ngf, outputNc, 7, 1, 0));
            layers.Add(Tanh());
        }
        return layers;
    }

    public override Tensor forward(Tensor x) => model.forward(x);
}
