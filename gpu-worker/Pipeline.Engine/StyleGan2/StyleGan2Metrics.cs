using Pipeline.Engine.Metrics.Ppl;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>Adapters that let the metrics area (PPL) drive a StyleGAN2 generator.</summary>
public static class StyleGan2Metrics
{
    /// <summary>
    /// The generator as an <see cref="IPplGenerator"/>: mapping = get_latent, synthesis = g([w], input_is_latent=True,
    /// noise=noise), make_noise draws [1,1,r,r] maps from <c>rng</c> (or the global generator).
    /// </summary>
    public static IPplGenerator ForPpl(Generator g) => new DelegatePplGenerator(
        g.Config.StyleDim,
        g.Map,
        (w, noise) => g.Forward([w], new GenerateOptions { InputIsLatent = true, Noise = noise }).Image,
        rng => Enumerable.Range(0, g.Config.NumLayers)
            .Select(i => randn([1, 1, Generator.NoiseRes(i), Generator.NoiseRes(i)], generator: rng).to(g.Device))
            .ToList());
}
