using System.Text.Json;
using Pipeline.Engine.Metrics.Ppl;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>Checks of the ppl fixture: percentile filter cases and replays of ppl.py runs with the stored draws.</summary>
internal static class PplChecks
{
    public static void Run(MetricsFixture fx, JsonElement c)
    {
        string name = c.GetProperty("name").GetString()!;
        if (name.StartsWith("filter_", StringComparison.Ordinal)) Filter(fx, c, name);
        else if (name.StartsWith("ppl_", StringComparison.Ordinal)) Replay(fx, c, name["ppl_".Length..]);
        else throw new InvalidOperationException($"ppl: unknown check '{name}'");
    }

    private static void Filter(MetricsFixture fx, JsonElement c, string name)
    {
        var d = fx.T(c.GetProperty("inputs").EnumerateArray().Single().GetString()!);
        var values = d.to(ScalarType.Float64).data<double>().ToArray();
        var r = PplFilter.Apply(values);
        var e = c.GetProperty("expected");
        double rtol = c.GetProperty("rtol").GetDouble(), atol = c.GetProperty("atol").GetDouble();
        Assert.Equal(e.GetProperty("lo").GetDouble(), r.Lo);
        Assert.Equal(e.GetProperty("hi").GetDouble(), r.Hi);
        Assert.Equal(e.GetProperty("n_kept").GetInt32(), r.Kept);
        Close.Assert(r.Mean, e.GetProperty("mean_float64").GetDouble(), rtol, atol, name + " mean");
    }

    private static void Replay(MetricsFixture fx, JsonElement c, string run)
    {
        var spec = fx.Manifest.GetProperty("runs").GetProperty(run);
        var o = new PplOptions
        {
            Space = spec.GetProperty("space").GetString() switch
            {
                "w" => PplSpace.W, "z" => PplSpace.Z, var s => throw new InvalidOperationException($"unknown PPL space '{s}'"),
            },
            Sampling = spec.GetProperty("sampling").GetString() switch
            {
                "end" => PplSamplingMode.End, "full" => PplSamplingMode.Full, var s => throw new InvalidOperationException($"unknown PPL sampling '{s}'"),
            },
            Crop = spec.GetProperty("crop").GetBoolean(),
            Samples = spec.GetProperty("n_sample").GetInt32(),
            Batch = spec.GetProperty("batch").GetInt32(),
            Epsilon = spec.GetProperty("eps").GetDouble(),
        };
        var batchSizes = spec.GetProperty("batch_sizes").EnumerateArray().Select(x => x.GetInt32()).ToArray();
        Assert.Equal(batchSizes, PerceptualPathLength.BatchSizes(o.Samples, o.Batch));
        string genFile = c.GetProperty("inputs").EnumerateArray().Select(x => x.GetString()!).Single(x => x.EndsWith(".safetensors", StringComparison.Ordinal));
        var expected = c.GetProperty("expected");
        var lpipsFx = MetricsFixture.Open(LpipsChecks.LpipsFixtureName());
        ulong vggSeed = Recipe.ParseSeed(fx.Manifest.GetProperty("vgg_recipe_base_seed"));
        foreach (var (dtype, suffix, rtolName) in new[] { (ScalarType.Float64, "f64", "rtol_f64"), (ScalarType.Float32, "f32", "rtol_f32") })
        {
            using var scope = NewDisposeScope();
            double rtol = c.GetProperty(rtolName).GetDouble();
            var g = new StandInGenerator(Path.Combine(fx.Dir, genFile), dtype);
            var lpips = LpipsChecks.Model(lpipsFx.Dir, vggSeed, lpipsFx.Manifest.GetProperty("vgg_recipe"), dtype);
            PplDraw Stored(int b, int n)
            {
                string prefix = $"{run}/batch{b}/";
                var z = fx.T(prefix + "z");
                Assert.Equal(2 * n, (int)z.shape[0]);
                var noise = fx.Data.Keys.Where(k => k.StartsWith(prefix + "noise", StringComparison.Ordinal))
                    .OrderBy(k => int.Parse(k[(prefix.Length + 5)..])).Select(k => fx.T(k).to(dtype)).ToArray();
                return new PplDraw(z.to(dtype), fx.T(prefix + "t").to(dtype), noise);
            }
            var result = PerceptualPathLength.Run(g, lpips, o, CPU, dtype, Stored);
            Close.Assert(tensor(result.Distances), fx.T(expected.GetProperty("distances_" + suffix).GetString()!), rtol, 0,
                $"ppl {run} distances ({suffix})");
            Close.Assert(result.Value, expected.GetProperty("ppl_" + suffix).GetDouble(), rtol, 0, $"ppl {run} ({suffix})");
        }
    }
}
