using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics.Ppl;

/// <summary>
/// What PPL needs of a style-based generator (StyleGAN v1/v2 or any other): the mapping z -> w, the synthesis
/// w -> image (one w per image, shared by all layers) with explicit noise, and a fresh noise draw.
/// </summary>
public interface IPplGenerator
{
    /// <summary>Length of z.</summary>
    int ZDim { get; }

    /// <summary>Mapping network f: z [B, ZDim] -> w [B, WDim] (rosinality get_latent).</summary>
    Tensor Mapping(Tensor z);

    /// <summary>Synthesis g([w], input_is_latent=True, noise=noise): w [B, WDim] -> images [B, 3, H, W] in about [-1, 1].</summary>
    Tensor Synthesis(Tensor w, IReadOnlyList<Tensor> noise);

    /// <summary>g.make_noise(): one noise map per layer, each broadcast over the batch.</summary>
    IReadOnlyList<Tensor> MakeNoise(Generator? rng);
}

/// <summary>An <see cref="IPplGenerator"/> made of delegates, to adapt any generator without a wrapper class.</summary>
public sealed class DelegatePplGenerator(
    int zDim,
    Func<Tensor, Tensor> mapping,
    Func<Tensor, IReadOnlyList<Tensor>, Tensor> synthesis,
    Func<Generator?, IReadOnlyList<Tensor>> makeNoise) : IPplGenerator
{
    public int ZDim => zDim;
    public Tensor Mapping(Tensor z) => mapping(z);
    public Tensor Synthesis(Tensor w, IReadOnlyList<Tensor> noise) => synthesis(w, noise);
    public IReadOnlyList<Tensor> MakeNoise(Generator? rng) => makeNoise(rng);
}
