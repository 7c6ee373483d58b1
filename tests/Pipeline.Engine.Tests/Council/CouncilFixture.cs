using System.Text.Json;
using Pipeline.Engine.Council;
using Pipeline.Engine.IO;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Council;

/// <summary>One tensor row of a fixture's manifest.json.</summary>
public sealed record ManifestEntry(string Name, string DType, long[] Shape, double? Atol, string Meaning);

/// <summary>
/// A council fixture case: manifest, config.yaml and io.safetensors, with comparisons that take the shape and
/// the tolerance of every tensor from the manifest and remember which expected tensors were checked.
/// </summary>
public sealed class CouncilFixture : IDisposable
{
    public string Dir { get; }
    public string Name => Path.GetFileName(Dir);
    public IReadOnlyDictionary<string, ManifestEntry> Manifest { get; }
    public OrderedDictionary<string, Tensor> Io { get; }
    public CouncilConfig Config { get; }
    public HashSet<string> Checked { get; } = new(StringComparer.Ordinal);

    public CouncilFixture(string dir)
    {
        Dir = dir;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "manifest.json")));
        Manifest = doc.RootElement.GetProperty("tensors").EnumerateArray().Select(e => new ManifestEntry(
                e.GetProperty("name").GetString()!,
                e.GetProperty("dtype").GetString()!,
                e.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray(),
                e.TryGetProperty("atol", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDouble() : null,
                e.TryGetProperty("meaning", out var m) ? m.GetString() ?? "" : ""))
            .ToDictionary(e => e.Name, StringComparer.Ordinal);
        Io = SafeTensors.Load(Path.Combine(dir, "io.safetensors"));
        Config = CouncilConfig.Load(Path.Combine(dir, "config.yaml"));
        foreach (var (name, entry) in Manifest)
        {
            Assert.True(Io.ContainsKey(name), $"{Name}: manifest tensor '{name}' is not in io.safetensors");
            Assert.Equal(entry.Shape, Io[name].shape);
        }
    }

    public bool Has(string name) => Io.ContainsKey(name);

    public Tensor Get(string name) =>
        Io.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Name}: io.safetensors has no '{name}'");

    /// <summary>Expected tensors (those with a tolerance) the test has not compared.</summary>
    public IEnumerable<string> Unchecked => Manifest.Values.Where(e => e.Atol is not null && !Checked.Contains(e.Name)).Select(e => e.Name);

    /// <summary>|actual − expected| ≤ atol everywhere (atol from the manifest), same shape; integer tensors too.</summary>
    public void AssertClose(string name, Tensor actual, double? atolOverride = null)
    {
        var entry = Manifest.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"{Name}: manifest has no '{name}'");
        var atol = atolOverride ?? entry.Atol ?? throw new InvalidOperationException($"{Name}: '{name}' is an input (no tolerance)");
        var expected = Get(name);
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{Name}/{name}: shape [{string.Join(", ", actual.shape)}] vs reference [{string.Join(", ", expected.shape)}]");
        using var a = actual.detach().cpu().to(ScalarType.Float64);
        using var b = expected.to(ScalarType.Float64);
        using var diff = (a - b).abs();
        double max = diff.numel() == 0 ? 0 : diff.max().item<double>();
        Assert.False(double.IsNaN(max), $"{Name}/{name}: NaN in the result");
        Assert.True(max <= atol, $"{Name}/{name}: max |diff| {max:G4} > atol {atol:G4} ({entry.Meaning})");
        Checked.Add(name);
    }

    /// <summary>Checkpoint files of this case whose name matches <paramref name="pattern"/>, sorted.</summary>
    public string[] Files(string pattern) => Directory.GetFiles(Dir, pattern).Order(StringComparer.Ordinal).ToArray();

    public void Dispose()
    {
        foreach (var t in Io.Values) t.Dispose();
    }
}
