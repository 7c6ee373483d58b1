using Pipeline.Engine.Metrics.Ppl;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>Adapters that let the metrics area (PPL) drive a StyleGAN2 generator: the one used by `pipeline ppl` and metrics jobs.</summary>
public static class StyleGan2Metrics
{
    /// <summary>
    /// The generator as an <see cref="IPplGenerator"/>: mapping = get_latent, synthesis = g([w], input_is_latent=True,
    /// noise=noise), make_noise draws [1,1,r,r] maps from <c>rng</c> (or the global generator, as ppl.py's make_noise).
    /// <paramref name="gate"/>: a lock every call takes, for a generator other callers may run at the same time
    /// (modules are not re-entrant); null when the caller owns the generator alone.
    /// </summary>
    public static IPplGenerator ForPpl(Generator g, object? gate = null)
    {
        gate ??= new object(); // uncontended: one caller
        return new DelegatePplGenerator(
            g.Config.StyleDim,
            z => { lock (gate) return g.Map(z); },
            (w, noise) => { lock (gate) return g.Forward([w], new GenerateOptions { InputIsLatent = true, Noise = noise }).Image; },
            rng =>
            {
                lock (gate)
                    return Enumerable.Range(0, g.Config.NumLayers)
                        .Select(i => randn([1, 1, Generator.NoiseRes(i), Generator.NoiseRes(i)], generator: rng).to(g.Device))
                        .ToList();
            });
    }
}
