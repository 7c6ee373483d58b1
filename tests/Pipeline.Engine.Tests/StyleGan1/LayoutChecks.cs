using System.Text.RegularExpressions;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// A `layouts` fixture lists the exact state_dict (keys in order, shapes, param/buffer) of real networks: the engine
/// configured from those shapes must produce exactly that listing, so real checkpoints load strictly.
/// </summary>
internal static class LayoutChecks
{
    public static void Run(FixtureCase fx)
    {
        var counts = fx.Meta.TryGetProperty("parameter_counts", out var pc) ? pc : default;
        foreach (var layout in fx.Meta.GetProperty("layouts").EnumerateObject())
        {
            var entries = layout.Value.EnumerateObject()
                .Select(e => (Key: e.Name, Shape: e.Value.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(), Kind: e.Value.GetProperty("kind").GetString()!))
                .ToArray();
            var shapes = entries.ToDictionary(e => e.Key, e => e.Shape);
            nn.Module model;
            if (layout.Name.StartsWith("StyledGenerator", StringComparison.Ordinal))
                model = new StyledGenerator(StyleGan1GeneratorConfig.InferFromShapes(shapes));
            else if (layout.Name.StartsWith("Discriminator", StringComparison.Ordinal))
            {
                var config = StyleGan1DiscriminatorConfig.InferFromShapes(shapes);
                var declared = Regex.Match(layout.Name, @"from_rgb_activate=(True|False)");
                if (declared.Success && (declared.Groups[1].Value == "True") != config.FromRgbActivate)
                    fx.Failures.Add($"{layout.Name}: from_rgb variant detected as activate={config.FromRgbActivate}");
                model = new Discriminator(config);
            }
            else { fx.Failures.Add($"layout '{layout.Name}': unknown network"); continue; }

            using (model)
            {
                var actual = StateDictOrder.Entries(model).Select(e => (Key: e.Name, Shape: e.Tensor.shape, Kind: e.IsBuffer ? "buffer" : "param")).ToArray();
                fx.Compare(layout.Name, entries.Select(Describe), actual.Select(Describe));
                if (counts.ValueKind == System.Text.Json.JsonValueKind.Object && counts.TryGetProperty(layout.Name, out var n))
                {
                    long ours = model.parameters().Sum(p => p.numel());
                    fx.Compare(layout.Name + " parameter count", [n.GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture)], [ours.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                }
            }
        }
    }

    private static string Describe((string Key, long[] Shape, string Kind) e) => $"{e.Key} [{string.Join(", ", e.Shape)}] {e.Kind}";

    /// <summary>Sequence equality with the first difference in the failure message.</summary>
    public static void Compare(this FixtureCase fx, string what, IEnumerable<string> expected, IEnumerable<string> actual)
    {
        fx.CountComparison();
        var e = expected.ToArray();
        var a = actual.ToArray();
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            var ei = i < e.Length ? e[i] : "(end)";
            var ai = i < a.Length ? a[i] : "(end)";
            if (ei != ai)
            {
                fx.Failures.Add($"{what}: entry {i} is '{ai}', expected '{ei}' ({a.Length} vs {e.Length} entries)");
                return;
            }
        }
    }
}
