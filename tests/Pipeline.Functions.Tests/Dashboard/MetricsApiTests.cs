using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Functions.Tests.Functions;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Metrics;

namespace Pipeline.Functions.Tests.Dashboard;

/// <summary>The Metrics function's document: which records become quality series, notes and job durations.</summary>
public sealed class MetricsApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static Task WriteAsync(IBlobStore store, string metric, string status, double? value, DateTimeOffset at, string? reason = null, string model = "models/a.pt", Dictionary<string, object>? settings = null) =>
        store.PutJsonAsync(BlobLayout.MetricEvaluation(metric, at, Guid.NewGuid().ToString("N")[..12]), new MetricRecord
        {
            Metric = metric, Status = status, Value = value, Reason = reason, ModelId = model, Timestamp = at,
            Settings = settings?.ToDictionary(kv => kv.Key, kv => (object?)kv.Value) ?? [],
        }, cancellationToken: Ct);

    [Fact]
    public async Task QualitySeriesHoldOnlyFidKidPplValuesAndEverythingElseIsAccountedFor()
    {
        await using var host = new FunctionsHost();
        await WriteAsync(host.Store, "fid50k_full", "ok", 12.5, T0);
        await WriteAsync(host.Store, "kid50k_full", "ok", -0.0002, T0);
        await WriteAsync(host.Store, "ppl_wend", "ok", 140, T0);
        await WriteAsync(host.Store, "lpips_projection", "ok", 0.3, T0);
        await WriteAsync(host.Store, "fid10k", "skipped", null, T0, "weights missing");
        await WriteAsync(host.Store, "fid10k", "skipped", null, T0.AddHours(2), "weights missing");
        await WriteAsync(host.Store, "fid10k", "skipped", null, T0.AddHours(1), null, "models/b.pt");
        await WriteAsync(host.Store, "ppl_wend", "ok", null, T0.AddHours(3), null, "models/b.pt"); // ok without a value: broken
        await WriteAsync(host.Store, "job_translation", "ok", 42.5, T0.AddMinutes(5), settings: new() { ["queue_wait_s"] = 1.5, ["job_id"] = "trn-abc" });
        await WriteAsync(host.Store, "job_projection", "ok", 300, T0.AddMinutes(6));

        var (status, body, _) = await host.InvokeHttpAsync("Metrics", "GET", "metrics", query: new { gallery = "0" });
        Assert.Equal(200, status);
        var doc = JsonNode.Parse(body)!.AsObject();

        var series = doc["metrics"]!.AsArray().Select(s => ((string)s!["metric"]!, (string)s["model"]!, s["points"]!.AsArray().Count)).ToList();
        Assert.Equal([("fid50k_full", "models/a.pt", 1), ("kid50k_full", "models/a.pt", 1), ("ppl_wend", "models/a.pt", 1)], series);

        var notes = doc["notEvaluated"]!.AsArray().Select(n => n!.AsObject()).ToList();
        Assert.Equal(3, notes.Count);
        var missing = notes.Single(n => (string?)n["model"] == "models/a.pt");
        Assert.Equal(("fid10k", "skipped", "weights missing", 2), ((string?)missing["metric"], (string?)missing["status"], (string?)missing["reason"], (int)missing["count"]!));
        Assert.Equal(T0.AddHours(2).ToUnixTimeSeconds(), (long)missing["latest"]!);
        Assert.Equal("no reason recorded", (string?)notes.Single(n => (string?)n["metric"] == "fid10k" && (string?)n["model"] == "models/b.pt")["reason"]);
        var broken = notes.Single(n => (string?)n["metric"] == "ppl_wend");
        Assert.Equal(("failed", "no finite value"), ((string?)broken["status"], (string?)broken["reason"]));

        var durations = doc["jobs"]!["durations"]!.AsArray().Select(d => d!.AsObject()).ToDictionary(d => (string)d["kind"]!);
        Assert.Equal(["projection", "translation"], durations.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(42.5, (double)durations["translation"]["seconds"]!);
        Assert.Equal(1.5, (double)durations["translation"]["queueSeconds"]!);
        Assert.Equal("trn-abc", (string?)durations["translation"]["jobId"]);
        Assert.Null(durations["projection"]["queueSeconds"]);
        Assert.Equal(T0.AddMinutes(6).ToUnixTimeSeconds(), (long)durations["projection"]["t"]!);
    }
}
