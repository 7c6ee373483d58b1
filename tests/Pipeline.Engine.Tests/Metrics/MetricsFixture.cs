using System.Collections.Concurrent;
using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>One fixture directory of metrics/*: manifest, data tensors, checks.</summary>
internal sealed class MetricsFixture
{
    private static readonly ConcurrentDictionary<string, MetricsFixture> Cache = new();

    private MetricsFixture(string dir)
    {
        Dir = dir;
        Manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(dir, "manifest.json"))).RootElement;
        Kind = Manifest.GetProperty("fixture").GetString()!;
        string dataFile = Manifest.TryGetProperty("data_file", out var df) ? df.GetString()! : "data.safetensors";
        Data = SafeTensors.Load(Path.Combine(dir, dataFile));
        // Cached for the whole run, but first opened wherever a test happens to be, possibly inside its dispose
        // scope (LPIPS checks open every fixture while looking for theirs): that scope must not free them.
        foreach (var t in Data.Values) t.DetachFromDisposeScope();
    }

    public string Dir { get; }
    public string Kind { get; }
    public JsonElement Manifest { get; }
    public OrderedDictionary<string, Tensor> Data { get; }

    public static MetricsFixture Open(string caseName) =>
        Cache.GetOrAdd(caseName, c => new MetricsFixture(Path.Combine(TestPaths.RequireFixtureDir("metrics"), c)));

    /// <summary>
    /// (fixture directory, check name) for every check of every metrics fixture found. While developing, set
    /// PIPELINE_METRICS_ONLY=dir1,dir2 to run the checks of some fixture directories only.
    /// </summary>
    public static TheoryData<string, string> AllChecks()
    {
        var data = new TheoryData<string, string>();
        var root = TestPaths.FixtureRoot;
        var only = Environment.GetEnvironmentVariable("PIPELINE_METRICS_ONLY")?.Split(',', StringSplitOptions.RemoveEmptyEntries);
        foreach (var c in TestPaths.FixtureCases("metrics", "manifest.json"))
        {
            if (only is { Length: > 0 } && !only.Contains(c)) continue;
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(root!, "metrics", c, "manifest.json")));
            foreach (var check in doc.RootElement.GetProperty("checks").EnumerateArray())
                data.Add(c, check.GetProperty("name").GetString()!);
        }
        // No rows would make an empty theory; one placeholder row runs and reports what is missing (a skip locally,
        // a failure under CI=true).
        if (data.Count == 0) data.Add(NoFixtures, "");
        return data;
    }

    /// <summary>The placeholder fixture name of <see cref="AllChecks"/> when no metrics fixture case was found.</summary>
    public const string NoFixtures = "(no metrics fixtures)";

    /// <summary>Skips (fails under CI=true) naming the missing metrics fixtures; for the <see cref="NoFixtures"/> row.</summary>
    public static void ReportMissing()
    {
        var dir = TestPaths.RequireFixtureDir("metrics");
        var only = Environment.GetEnvironmentVariable("PIPELINE_METRICS_ONLY");
        Requirement.Skip($"No metrics fixture case (a folder with manifest.json) under {dir}"
            + (string.IsNullOrEmpty(only) ? "" : $" matching PIPELINE_METRICS_ONLY={only}"));
    }

    public JsonElement Check(string name) =>
        Manifest.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    public Tensor T(string name) =>
        Data.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Dir}: data has no tensor '{name}'");

    public ulong BaseSeed(string section) => Recipe.ParseSeed(Manifest.GetProperty(section).GetProperty("base_seed"));
}

/// <summary>The fixtures' comparison rule: |actual - expected| &lt;= atol + rtol * |expected| elementwise.</summary>
internal static class Close
{
    public static void Assert(Tensor actual, Tensor expected, double rtol, double atol, string what)
    {
        var a = actual.detach().cpu().to(ScalarType.Float64);
        var e = expected.detach().cpu().to(ScalarType.Float64);
        Xunit.Assert.True(a.shape.SequenceEqual(e.shape),
            $"{what}: shape [{string.Join(", ", a.shape)}] != expected [{string.Join(", ", e.shape)}]");
        if (e.numel() == 0) return;
        var err = (a - e).abs();
        var bound = e.abs() * rtol + atol;
        var bad = err.gt(bound).logical_or(a.isnan().logical_xor(e.isnan()));
        long nBad = bad.sum().item<long>();
        if (nBad > 0)
        {
            double worst = (err / bound).nan_to_num(0, double.MaxValue).max().item<double>();
            double maxErr = err.nan_to_num(0, double.MaxValue).max().item<double>();
            Xunit.Assert.Fail($"{what}: {nBad}/{e.numel()} elements outside atol {atol:G3} + rtol {rtol:G3}; max abs err {maxErr:G4}, worst err/bound {worst:G4}");
        }
    }

    public static void Assert(double actual, double expected, double rtol, double atol, string what) =>
        Xunit.Assert.True(Math.Abs(actual - expected) <= atol + rtol * Math.Abs(expected),
            $"{what}: {actual:R} vs expected {expected:R} (rtol {rtol:G3}, atol {atol:G3})");
}
