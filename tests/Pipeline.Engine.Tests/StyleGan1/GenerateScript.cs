using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// generate.py replayed with its random draws taken, in order, from the fixture's in.draw.&lt;k&gt; tensors:
/// get_mean_style (10 chunks, generate.py's constant), sample(), style_mixing().
/// </summary>
internal static class GenerateScript
{
    private const int MeanStyleChunks = 10; // generate.py: `for i in range(10)`

    public static void Run(FixtureCase fx, JsonElement call)
    {
        var g = fx.Generator("g_running");
        int step = call.Int("step");
        double psi = call.Dbl("style_weight", 0.7);
        var range = call.Range();
        var draws = new Draws(fx);

        var mean = g.GetMeanStyle(Enumerable.Range(0, MeanStyleChunks).Select(_ => draws.Next()).ToArray());
        fx.Check("out.mean_style", mean);

        var z = draws.Next(call.Int("n_sample"));
        var sample = g.Forward(z, new StyleGan1ForwardOptions { Step = step, Alpha = 1, Noise = draws.Noise(z.shape[0], step), MeanStyle = mean, StyleWeight = psi });
        fx.Check("out.sample", sample);

        int nSource = call.Int("n_source"), nTarget = call.Int("n_target");
        var source = draws.Next(nSource);
        var target = draws.Next(nTarget);
        StyleGan1ForwardOptions Opt(long batch) => new() { Step = step, Alpha = 1, Noise = draws.Noise(batch, step), MeanStyle = mean, StyleWeight = psi };
        var sourceImages = g.Forward(source, Opt(nSource));
        var targetImages = g.Forward(target, Opt(nTarget));
        var parts = new List<Tensor> { full_like(sourceImages[..1], -1), sourceImages };
        for (int t = 0; t < nTarget; t++)
        {
            parts.Add(targetImages[t..(t + 1)]);
            var opt = Opt(nSource) with { MixingRange = range };
            parts.Add(g.Forward([target[t..(t + 1)].repeat(nSource, 1), source], opt));
        }
        fx.Check("out.mixing_grid", cat(parts, 0));
        if (draws.Left > 0) fx.Failures.Add($"generate_script: {draws.Left} recorded draws were not consumed");
    }

    /// <summary>The recorded torch.randn results, consumed in order with a shape check.</summary>
    private sealed class Draws(FixtureCase fx)
    {
        private int next;

        public int Left => fx.Io.Keys.Count(k => k.StartsWith("in.draw.", StringComparison.Ordinal)) - next;

        public Tensor Next(long? rows = null)
        {
            var t = fx.In($"in.draw.{next++}");
            if (rows is { } r && t.shape[0] != r)
                throw new InvalidDataException($"draw {next - 1} has {t.shape[0]} rows, the script expects {r} here");
            return t;
        }

        public Tensor[] Noise(long batch, int step) =>
            Enumerable.Range(0, step + 1).Select(i =>
            {
                var t = Next(batch);
                if (t.shape[2] != 4L << i) throw new InvalidDataException($"draw {next - 1} is not a level-{i} noise map");
                return t;
            }).ToArray();
    }
}
