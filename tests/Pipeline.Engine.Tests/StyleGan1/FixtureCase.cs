using System.Globalization;
using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// One fixture directory: meta.json (calls, per-tensor tolerances), io.safetensors, checkpoint files. Comparisons
/// collect every mismatch so one run shows all of them.
/// </summary>
internal sealed class FixtureCase : IDisposable
{
    private readonly Dictionary<string, StyleGan1Checkpoint> checkpoints = [];
    private readonly Dictionary<string, object?> trees = [];
    private readonly DisposeScope scope = NewDisposeScope();

    public string Dir { get; }
    public string Name => Path.GetFileName(Dir);
    public JsonElement Meta { get; }
    public IReadOnlyDictionary<string, Tensor> Io { get; }
    public List<string> Failures { get; } = [];
    public int Compared { get; private set; }

    public FixtureCase(string dir)
    {
        Dir = dir;
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "meta.json"))))
            Meta = doc.RootElement.Clone();
        var io = Path.Combine(dir, "io.safetensors");
        Io = File.Exists(io) ? SafeTensors.Load(io) : new OrderedDictionary<string, Tensor>();
        // Loaded here, under the case's dispose scope, so per-call scopes do not free the weights.
        foreach (var file in Directory.GetFiles(dir, "*.model"))
            trees[Path.GetFileName(file)] = TorchFile.Load(file);
    }

    public JsonElement[] Calls => Meta.TryGetProperty("calls", out var c) ? c.EnumerateArray().ToArray() : [];

    public Tensor In(string name) =>
        Io.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Name}: io.safetensors has no tensor '{name}' (named by meta.json)");

    /// <summary>The unpickled tree of a checkpoint file of this case (weights.model unless told otherwise).</summary>
    public object? Tree(string file = "weights.model") =>
        trees.TryGetValue(file, out var t) ? t : throw new FileNotFoundException($"{Name}: no {file}");

    public StyleGan1Checkpoint Checkpoint(string file = "weights.model")
    {
        if (!checkpoints.TryGetValue(file, out var ck))
            checkpoints[file] = ck = StyleGan1Checkpoint.FromTree(Tree(file), Path.Combine(Dir, file));
        return ck;
    }

    /// <summary>A model named by a call's "model" field, freshly built and loaded.</summary>
    public StyledGenerator Generator(string model) => model switch
    {
        "g_running" => Checkpoint().CreateGenerator(useRunningAverage: true),
        "generator" => Checkpoint().CreateGenerator(useRunningAverage: false),
        _ => throw new InvalidDataException($"{Name}: unknown generator model '{model}'"),
    };

    public void CountComparison() => Compared++;

    /// <summary>Checks |actual - expected| &lt;= atol + rtol |expected| with the tolerances meta.json gives for that tensor.</summary>
    public void Check(string expectedName, Tensor actual, string? context = null)
    {
        Compared++;
        var label = context is null ? expectedName : $"{expectedName} ({context})";
        if (!Io.TryGetValue(expectedName, out var expected)) { Failures.Add($"{label}: expected tensor missing from io.safetensors"); return; }
        if (!Meta.GetProperty("tensors").TryGetProperty(expectedName, out var info) || !info.TryGetProperty("atol", out var atolEl))
        { Failures.Add($"{label}: meta.json gives no atol for it"); return; }
        double atol = atolEl.GetDouble();
        double rtol = info.TryGetProperty("rtol", out var r) ? r.GetDouble() : Meta.GetProperty("rtol").GetDouble();
        var a = actual.detach().cpu().to(float64);
        var e = expected.to(float64);
        if (!a.shape.SequenceEqual(e.shape))
        {
            Failures.Add($"{label}: shape [{string.Join(", ", a.shape)}] vs expected [{string.Join(", ", e.shape)}]");
            return;
        }
        var diff = (a - e).abs();
        var excess = diff - (atol + rtol * e.abs());
        bool nan = a.isnan().any().item<bool>();
        double worst = excess.max().item<double>();
        if (nan || worst > 0)
            Failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{label}: max |diff| {diff.max().item<double>():g4} exceeds atol {atol:g3} + rtol {rtol:g3}|e| by {worst:g4}{(nan ? " (NaN present)" : "")}"));
    }

    /// <summary>Compares intermediates that the fixture recorded under aux.&lt;tag&gt;.&lt;name&gt; or aux.&lt;name&gt; (first rows only when aux holds fewer).</summary>
    public Action<string, Tensor> AuxTap(string? tag) => (name, t) =>
    {
        foreach (var key in tag is null ? [$"aux.{name}"] : new[] { $"aux.{tag}.{name}", $"aux.{name}" })
            if (Io.TryGetValue(key, out var exp))
            {
                var rows = Math.Min(exp.shape[0], t.shape[0]);
                Check(key, t.detach()[..(int)rows], "intermediate");
                return;
            }
    };

    public void Dispose()
    {
        foreach (var t in Io.Values) t.Dispose();
        scope.Dispose();
    }
}

/// <summary>Shared JSON accessors for meta.json call entries.</summary>
internal static class Json
{
    public static string Str(this JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : throw new InvalidDataException($"call lacks string '{name}': {e}");

    public static string? OptStr(this JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static int Int(this JsonElement e, string name) => e.GetProperty(name).GetInt32();

    public static double Dbl(this JsonElement e, string name, double fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : fallback;

    public static string[] Strs(this JsonElement e, string name) =>
        e.GetProperty(name).EnumerateArray().Select(x => x.GetString()!).ToArray();

    public static int[]? OptInts(this JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetInt32()).ToArray() : null;

    /// <summary>[-1, -1] (the reference's "no range") is null; anything else is a level range.</summary>
    public static MixingRange? Range(this JsonElement e)
    {
        var r = e.OptInts("mixing_range");
        return r is null || (r[0] == -1 && r[1] == -1) ? null : new MixingRange(r[0], r[1]);
    }
}
