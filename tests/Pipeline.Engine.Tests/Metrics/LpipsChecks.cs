using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Lpips;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>Checks of lpips_vgg: recipe VGG16 trunk + the real v0.1 heads read from the legacy .pth file.</summary>
internal static partial class LpipsChecks
{
    private static readonly ConcurrentDictionary<(string, ScalarType), LpipsVgg> Models = new();

    /// <summary>LPIPS with the recipe VGG (base seed from <paramref name="vggSeedOwner"/>) and the heads of lpips_vgg.</summary>
    public static LpipsVgg Model(string fixtureDir, ulong vggBaseSeed, JsonElement vggRecipe, ScalarType dtype) =>
        Models.GetOrAdd((fixtureDir + "|" + vggBaseSeed, dtype), _ =>
        {
            var heads = LinHeads();
            var model = new LpipsVgg();
            model.LoadWeights(Recipe.StateDict(vggRecipe.GetProperty("state_dict"), vggBaseSeed), heads);
            model.to(dtype);
            // Cached across checks: keep it out of the dispose scope of the check that happened to build it.
            foreach (var t in model.parameters()) t.DetachFromDisposeScope();
            foreach (var t in model.buffers()) t.DetachFromDisposeScope();
            return model;
        });

    /// <summary>The v0.1 heads from the verbatim legacy torch file, cross-checked against the safetensors copy.</summary>
    public static OrderedDictionary<string, Tensor> LinHeads()
    {
        var dir = MetricsFixture.Open(LpipsFixtureName()).Dir;
        var pth = Directory.GetFiles(dir, "*.pth").Single();
        var heads = StateDictFiles.Load(pth);
        foreach (var st in Directory.GetFiles(dir, "*.safetensors").Where(f => !f.EndsWith("data.safetensors", StringComparison.Ordinal)))
            foreach (var (k, v) in SafeTensors.Load(st))
                Assert.True(heads[k].equal(v).all().item<bool>(), $"{k}: legacy .pth and safetensors copies differ");
        return heads;
    }

    /// <summary>The metrics fixture directory whose kind is lpips_vgg (it holds the real heads).</summary>
    public static string LpipsFixtureName()
    {
        var name = Pipeline.Tests.TestPaths.FixtureCases("metrics", "manifest.json").FirstOrDefault(c => MetricsFixture.Open(c).Kind == "lpips_vgg");
        if (name is null)
            Pipeline.Tests.Requirement.Skip($"No lpips_vgg metrics fixture (it holds the real LPIPS heads) under {Pipeline.Tests.TestPaths.RequireFixtureDir("metrics")}");
        return name;
    }

    [GeneratedRegex(@"^(.+)_(lpips_f32|lpips_f64|per_layer|normalize_flag|rosinality)$")]
    private static partial Regex CheckName();

    public static void Run(MetricsFixture fx, JsonElement c)
    {
        string name = c.GetProperty("name").GetString()!;
        var m = CheckName().Match(name);
        if (!m.Success) throw new InvalidOperationException($"lpips_vgg: unknown check '{name}'");
        double rtol = c.GetProperty("rtol").GetDouble(), atol = c.GetProperty("atol").GetDouble();
        var inputs = c.GetProperty("inputs").EnumerateArray().Select(e => fx.T(e.GetString()!)).ToArray();
        var expected = c.GetProperty("expected").EnumerateArray().Select(e => e.GetString()!).ToArray();
        var recipe = fx.Manifest.GetProperty("vgg_recipe");
        ulong seed = Recipe.ParseSeed(recipe.GetProperty("base_seed"));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        LpipsVgg Net(ScalarType dt) => Model(fx.Dir, seed, recipe, dt);
        ScalarType DtypeOf(string tensorName) => fx.T(tensorName).dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        switch (m.Groups[2].Value)
        {
            case "lpips_f32":
            case "lpips_f64":
                var dt = DtypeOf(expected.Single());
                Close.Assert(Net(dt).forward(inputs[0].to(dt), inputs[1].to(dt)), fx.T(expected.Single()), rtol, atol, name);
                break;
            case "per_layer":
                foreach (var e in expected)
                {
                    var d = DtypeOf(e);
                    var layers = Net(d).PerLayer(inputs[0].to(d), inputs[1].to(d));
                    Close.Assert(stack(layers.Select(l => l.flatten()).ToArray()), fx.T(e), rtol, atol, $"{name} ({e})");
                }
                break;
            case "normalize_flag":
                Close.Assert(Net(ScalarType.Float32).Compute((inputs[0] + 1) / 2, (inputs[1] + 1) / 2, normalize: true),
                    fx.T(expected.Single()), rtol, atol, name);
                break;
            default:
                // rosinality PerceptualLoss(pred, target) evaluates the network as (target, pred).
                Close.Assert(Net(ScalarType.Float32).forward(inputs[1], inputs[0]), fx.T(expected.Single()), rtol, atol, name);
                break;
        }
    }
}
