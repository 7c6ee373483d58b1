using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Tests;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>
/// One fixture case directory: meta.json, io.safetensors and the checkpoints. Every comparison uses the tolerance
/// meta.json gives for that tensor; <see cref="AssertAllExpectedChecked"/> makes sure no out.* went unchecked.
/// </summary>
internal sealed class Sg2Case : IDisposable
{
    private readonly HashSet<string> _checked = [];
    private readonly List<string> _failures = [];
    private readonly DisposeScope _scope = NewDisposeScope();

    public Sg2Case(string dir)
    {
        Dir = dir;
        Meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "meta.json"))).RootElement;
        Io = SafeTensors.Load(Path.Combine(dir, "io.safetensors"));
        Kind = Meta.TryGetProperty("fixture", out var f) ? f.GetString()! : Path.GetFileName(dir);
    }

    public static Sg2Case Open(string name) => new(Path.Combine(TestPaths.RequireFixtureDir("stylegan2"), name));

    public string Dir { get; }
    public string Kind { get; }
    public JsonElement Meta { get; }
    public OrderedDictionary<string, Tensor> Io { get; }
    public JsonElement Config => Meta.GetProperty("config");

    public Tensor In(string name) => Io.TryGetValue("in." + name, out var t) ? t : throw new KeyNotFoundException($"{Kind}: io.safetensors has no in.{name}");
    public bool HasIn(string name) => Io.ContainsKey("in." + name);
    public IEnumerable<string> Names(string prefix) => Io.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal));

    public double Scalar(string name) => Meta.GetProperty("scalars").GetProperty(name).GetDouble();
    public double ConfigDouble(string name) => Config.GetProperty(name).GetDouble();

    /// <summary>A state_dict stored under <paramref name="key"/> in the case's checkpoint file.</summary>
    public OrderedDictionary<string, Tensor> StateDict(string key, string file = "weights.pt") =>
        StateDicts.Get(Checkpoint(file), key);

    public object? Checkpoint(string file = "weights.pt")
    {
        if (!_trees.TryGetValue(file, out var tree))
            _trees[file] = tree = TestCheckpoints.Load(Path.Combine(Dir, file));
        return tree;
    }

    private readonly Dictionary<string, object?> _trees = [];

    public Generator Generator(string key = "g_ema", string file = "weights.pt") =>
        Pipeline.Engine.StyleGan2.Generator.FromStateDict(StateDict(key, file), what: $"{Kind}/{file}[{key}]");

    public Discriminator Discriminator(string key = "d", string file = "weights.pt") =>
        Pipeline.Engine.StyleGan2.Discriminator.FromStateDict(StateDict(key, file), what: $"{Kind}/{file}[{key}]");

    /// <summary>Compares against out.{name} (or aux.{name} when <paramref name="aux"/>) with meta.json's tolerance.</summary>
    public void Check(string name, Tensor actual, bool aux = false)
    {
        string key = (aux ? "aux." : "out.") + name;
        if (!Io.TryGetValue(key, out var expected)) { _failures.Add($"{key}: not in io.safetensors"); return; }
        _checked.Add(key);
        var meta = Meta.GetProperty("tensors").GetProperty(key);
        double atol = meta.GetProperty("atol").GetDouble();
        double rtol = meta.TryGetProperty("rtol", out var r) ? r.GetDouble() : Meta.GetProperty("rtol").GetDouble();
        var a = actual.detach().to(float64).cpu();
        var e = expected.to(float64);
        if (!a.shape.SequenceEqual(e.shape) && a.numel() == e.numel()) a = a.reshape(e.shape);
        if (!a.shape.SequenceEqual(e.shape))
        {
            _failures.Add($"{key}: shape [{string.Join(",", actual.shape)}] vs expected [{string.Join(",", expected.shape)}]");
            return;
        }
        var excess = (a - e).abs() - (atol + rtol * e.abs());
        double worst = excess.max().item<double>();
        Report(key, (a - e).abs().max().item<double>(), ((a - e).abs() / (atol + rtol * e.abs())).max().item<double>());
        if (worst > 0 || double.IsNaN(worst))
        {
            double maxErr = (a - e).abs().max().item<double>();
            _failures.Add($"{key}: max |diff| {maxErr:G4} exceeds atol {atol:G3} + rtol {rtol:G3}*|expected| by {worst:G4}");
        }
    }

    /// <summary>
    /// With $PIPELINE_PARITY_REPORT set (build/parity-isa.sh sets it), appends one line per compared tensor: case,
    /// tensor, max |diff| and the largest fraction of its tolerance used, so margins can be compared across CPU paths.
    /// </summary>
    private void Report(string key, double maxDiff, double usedFraction)
    {
        var path = Environment.GetEnvironmentVariable("PIPELINE_PARITY_REPORT");
        if (string.IsNullOrEmpty(path)) return;
        lock (ReportLock)
            File.AppendAllText(path, FormattableString.Invariant($"{Kind}\t{key}\t{maxDiff:E3}\t{usedFraction:F4}\n"));
    }

    private static readonly object ReportLock = new();

    /// <summary>
    /// Where a case stores param.* tensors next to a weights.pt, the checkpoint's tensors (any of its state_dicts, with or
    /// without the state_dict name as prefix) must be bit-identical to them.
    /// </summary>
    public void CheckParamsMatchCheckpoint()
    {
        var parameters = Names("param.").ToList();
        if (parameters.Count == 0 || !File.Exists(Path.Combine(Dir, "weights.pt"))) return;
        if (Checkpoint() is not OrderedDictionary<string, object?> root) { _failures.Add("weights.pt is not a dict"); return; }
        var dicts = root.Where(kv => kv.Value is OrderedDictionary<string, object?>).ToDictionary(kv => kv.Key, kv => StateDicts.Get(root, kv.Key));
        foreach (var key in parameters)
        {
            var name = key["param.".Length..];
            Tensor? found = null;
            foreach (var (sdName, sd) in dicts)
                if (sd.TryGetValue(name, out found) || (name.StartsWith(sdName + ".", StringComparison.Ordinal) && sd.TryGetValue(name[(sdName.Length + 1)..], out found)))
                    break;
            if (found is null) _failures.Add($"{key}: no tensor of that name in weights.pt");
            else if (!found.shape.SequenceEqual(Io[key].shape) || !found.to(float32).equal(Io[key]).item<bool>())
                _failures.Add($"{key}: weights.pt tensor is not bit-identical");
        }
    }

    /// <summary>Fails with every mismatch, and with every out.* tensor the case handler never compared.</summary>
    public void AssertAllExpectedChecked()
    {
        var missed = Io.Keys.Where(k => k.StartsWith("out.", StringComparison.Ordinal) && !_checked.Contains(k)).ToList();
        if (missed.Count > 0) _failures.Add($"expected tensors not checked by the {Kind} handler: {string.Join(", ", missed)}");
        Assert.True(_failures.Count == 0, $"{Kind}: {_failures.Count} problem(s):\n" + string.Join("\n", _failures));
    }

    public void Dispose() => _scope.Dispose();
}
