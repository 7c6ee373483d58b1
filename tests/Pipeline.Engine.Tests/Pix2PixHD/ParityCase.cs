using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Engine.Pix2PixHD;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Pix2PixHD;

/// <summary>
/// One fixture directory: meta.json (config, roles, shapes, per-tensor atol/rtol) and io.safetensors. Records which
/// expected tensors were compared so a case fails when the port leaves an `out.*` unchecked.
/// </summary>
internal sealed class ParityCase : IDisposable
{
    private readonly JsonDocument meta;
    private readonly OrderedDictionary<string, Tensor> io;
    private readonly HashSet<string> compared = new(StringComparer.Ordinal);

    public string Dir { get; }
    public string Kind { get; }
    public JsonElement Config => meta.RootElement.GetProperty("config");
    public JsonElement Scalars => meta.RootElement.TryGetProperty("scalars", out var s) ? s : default;

    public ParityCase(string dir)
    {
        Dir = dir;
        meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "meta.json")));
        Kind = meta.RootElement.TryGetProperty("fixture", out var f) ? f.GetString()! : Path.GetFileName(dir);
        io = SafeTensors.Load(Path.Combine(dir, "io.safetensors"));
    }

    public IEnumerable<string> TensorNames => meta.RootElement.GetProperty("tensors").EnumerateObject().Select(p => p.Name);

    public bool Has(string name) => io.ContainsKey(name);

    public Tensor this[string name] => io.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Kind}: io.safetensors has no '{name}'");

    public long[] Shape(string name) => meta.RootElement.GetProperty("tensors").GetProperty(name).GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();

    public IEnumerable<string> Matching(string prefix) => TensorNames.Where(n => n.StartsWith(prefix, StringComparison.Ordinal));

    public string PathOf(string name) => Path.Combine(Dir, name);

    public OrderedDictionary<string, Tensor> Weights(string file)
 => Networks.LoadStateDict(PathOf(file));

    /// <summary>Compares <paramref name="actual"/> with the named tensor under its meta.json tolerance; reports the worst element.</summary>
    public void Check(string name, Tensor actual)
    {
        var spec = meta.RootElement.GetProperty("tensors").GetProperty(name);
        double atol = spec.TryGetProperty("atol", out var a) && a.ValueKind == JsonValueKind.Number ? a.GetDouble() : 0;
        double rtol = spec.TryGetProperty("rtol", out var r) && r.ValueKind == JsonValueKind.Number ? r.GetDouble() : 0;
        var expected = this[name].to(ScalarType.Float64);
        var got = actual.detach().cpu().to(ScalarType.Float64);
        Assert.True(expected.shape.SequenceEqual(got.shape),
            $"{Kind}/{name}: shape [{string.Join(", ", got.shape)}], expected [{string.Join(", ", expected.shape)}]");
        var diff = (got - expected).abs();
        var excess = diff - (atol + rtol * expected.abs());
        double worst = excess.numel() == 0 ? double.NegativeInfinity : excess.max().item<double>();
        if (worst > 0)
        {
            long idx = excess.flatten().argmax().item<long>();
            Assert.Fail($"{Kind}/{name}: |actual-expected| exceeds atol {atol} + rtol {rtol}*|expected| by {worst:G4} at flat index {idx} " +
                        $"(actual {got.flatten()[idx].item<double>():G9}, expected {expected.flatten()[idx].item<double>():G9}); max |diff| {diff.max().item<double>():G4}");
        }
        compared.Add(name);
    }

    /// <summary>Compares a tensor if the fixture has it (intermediates are optional in other fixture sets).</summary>
    public void CheckIfPresent(string name, Tensor actual)
    {
        if (TensorNames.Contains(name)) Check(name, actual);
    }

    /// <summary>Every tensor whose role is "expected" (the `out.*` set) must have been compared.</summary>
    public void AssertAllExpectedCompared()
    {
        var missed = meta.RootElement.GetProperty("tensors").EnumerateObject()
            .Where(p => p.Value.TryGetProperty("role", out var role) && role.GetString() == "expected" && !compared.Contains(p.Name))
            .Select(p => p.Name).ToList();
        Assert.True(missed.Count == 0, $"{Kind}: expected tensors not checked by the port: {string.Join(", ", missed)}");
    }

    public int Int(string key) => Config.GetProperty(key).GetInt32();

    public void Dispose()
    {
        meta.Dispose();
        foreach (var t in io.Values) t.Dispose();
    }
}
