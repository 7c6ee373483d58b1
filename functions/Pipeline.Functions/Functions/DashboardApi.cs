using System.Reflection;
using Microsoft.Extensions.Options;
using Pipeline.Functions.Http;
using Pipeline.Functions.Services;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Indexes;
using Pipeline.Infra.Storage;
using Pipeline.Metrics;

namespace Pipeline.Functions;

/// <summary>
/// The HTTP functions Metrics (GET api/metrics: FID/KID/PPL series per model, the quality evaluations that were skipped
/// or failed with their reasons, job counts and durations, recent works) and Dashboard (the page and its assets).
/// </summary>
public sealed class DashboardApi(HttpAuth auth, IBlobStore store, CachedBlobReader reader, ILinkSigner links, IOptions<SasOptions> sasOptions)
{
    /// <summary>Function name of <see cref="MetricsAsync"/>.</summary>
    public const string Metrics = "Metrics";
    /// <summary>Function name of <see cref="DashboardAsync"/>.</summary>
    public const string Dashboard = "Dashboard";

    private const int MaxStatusDocuments = 500;
    private const int MaxResultDocuments = 50;
    private readonly SasOptions sas = sasOptions.Value;

    /// <summary>The metrics document the dashboard plots (GET api/metrics?gallery=n).</summary>
    [Function(Metrics)]
    public async Task<IResult> MetricsAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "metrics")] HttpRequest request,
        CancellationToken cancellationToken) =>
        await auth.RunAsync(HttpTriggerRequest.From(request), async req =>
        {
            int gallerySize = 24;
            if (req.Query("gallery") is { } g && (!int.TryParse(g, out gallerySize) || gallerySize is < 0 or > 100))
                return HttpTriggerResponse.Problem(400, "bad_request", "gallery must be in 0..100.");
            var (series, notEvaluated, durations) = await MetricRecordsAsync(cancellationToken);
            var (counts, byKind) = await JobStatesAsync(cancellationToken);
            return HttpTriggerResponse.Json(200, new
            {
                metrics = series,
                notEvaluated,
                jobs = new { counts, byKind, durations },
                gallery = await GalleryAsync(gallerySize, cancellationToken),
            });
        });

    /// <summary>
    /// Dashboard (GET api/dashboard/{*asset}): the page and its script and style, embedded in this assembly. The page
    /// needs authorization; the script and style hold no data and load without a key (a browser cannot add one to them).
    /// </summary>
    [Function(Dashboard)]
    public async Task<IResult> DashboardAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "dashboard/{*asset}")] HttpRequest request,
        string? asset = null) =>
        await auth.RunAsync(HttpTriggerRequest.From(request, ("asset", asset)), req =>
        {
            var asset = AssetOf(req);
            return Task.FromResult(DashboardAssets.TryGet(asset) is { } a
                ? HttpTriggerResponse.Text(200, a.ContentType, a.Text, a.ContentType.StartsWith("text/html", StringComparison.Ordinal) ? "no-store" : "private, max-age=300")
                : HttpTriggerResponse.Problem(404, "not_found", "No such dashboard asset."));
        }, req => PublicAssets.Contains(AssetOf(req)));

    /// <summary>The assets that load without authorization: they hold no data, and a browser cannot add a key to them.</summary>
    public static readonly IReadOnlySet<string> PublicAssets = new HashSet<string>(StringComparer.Ordinal) { "app.js", "style.css", "gallery.js" };

    private static string AssetOf(HttpTriggerRequest req) => req.Param("asset") is { Length: > 0 } a ? a : "index.html";

    /// <summary>
    /// Whether a metric is a model-quality evaluation (FID, KID, PPL: lower is better). The worker's per-job records
    /// (job_&lt;kind&gt;, value = seconds) share the record schema but are durations, not quality, and are plotted apart.
    /// </summary>
    internal static bool IsQualityMetric(string metric) =>
        metric.StartsWith("fid", StringComparison.Ordinal) || metric.StartsWith("kid", StringComparison.Ordinal) || metric.StartsWith("ppl", StringComparison.Ordinal);

    /// <summary>Prefix of the worker's per-job duration records (job_translation, job_projection, ...).</summary>
    internal const string JobMetricPrefix = "job_";

    /// <summary>
    /// Reads every metric record once: quality series (ok values per metric and model), the quality evaluations that
    /// gave no value (grouped by metric, model, status and reason), and the worker's job durations.
    /// </summary>
    private async Task<(List<object> Series, List<object> NotEvaluated, List<object> Durations)> MetricRecordsAsync(CancellationToken cancellationToken)
    {
        var series = new Dictionary<(string Metric, string Model), List<object>>();
        // Skipped and failed evaluations carry no value, but they are shown (grouped, with their reason): a chart
        // that silently lacks a model would read as "never evaluated".
        var notEvaluated = new Dictionary<(string Metric, string Model, string Status, string Reason), (int Count, DateTimeOffset Latest)>();
        var durations = new List<(DateTimeOffset At, object Point)>();
        // Oldest first (as the per-evaluation blob names sort), whether they come from the index or a scan.
        var records = (await MetricIndexRecordsAsync(cancellationToken)).OrderBy(r => r.Timestamp).ThenBy(r => r.Metric, StringComparer.Ordinal).ThenBy(r => r.RunId, StringComparer.Ordinal);
        foreach (var r in records)
        {
            var model = r.ModelId ?? "(unknown model)";
            bool hasValue = r.Status == "ok" && r.Value is { } v && double.IsFinite(v);
            if (r.Metric.StartsWith(JobMetricPrefix, StringComparison.Ordinal))
            {
                if (!hasValue) continue; // the worker writes job records only for finished jobs
                durations.Add((r.Timestamp, new
                {
                    kind = r.Metric[JobMetricPrefix.Length..],
                    t = r.Timestamp.ToUnixTimeSeconds(),
                    seconds = r.Value!.Value,
                    queueSeconds = r.SettingNumber("queue_wait_s"),
                    jobId = r.SettingString("job_id"),
                    model,
                }));
            }
            else if (!IsQualityMetric(r.Metric)) continue;
            else if (hasValue)
            {
                var key = (r.Metric, model);
                if (!series.TryGetValue(key, out var points)) series[key] = points = [];
                points.Add(new { t = r.Timestamp.ToUnixTimeSeconds(), value = r.Value!.Value });
            }
            else
            {
                var status = r.Status == "ok" ? "failed" : r.Status; // "ok" without a finite value is a broken evaluation
                var key = (r.Metric, model, status, r.Reason ?? (r.Status == "ok" ? "no finite value" : "no reason recorded"));
                var (count, latest) = notEvaluated.GetValueOrDefault(key);
                notEvaluated[key] = (count + 1, count == 0 || r.Timestamp > latest ? r.Timestamp : latest);
            }
        }
        return (
            series.OrderBy(s => s.Key.Metric, StringComparer.Ordinal).ThenBy(s => s.Key.Model, StringComparer.Ordinal)
                .Select(s => (object)new { metric = s.Key.Metric, model = s.Key.Model, points = s.Value }).ToList(),
            notEvaluated.OrderBy(n => n.Key.Metric, StringComparer.Ordinal).ThenBy(n => n.Key.Model, StringComparer.Ordinal).ThenByDescending(n => n.Value.Latest)
                .Select(n => (object)new { metric = n.Key.Metric, model = n.Key.Model, status = n.Key.Status, reason = n.Key.Reason, count = n.Value.Count, latest = n.Value.Latest.ToUnixTimeSeconds() }).ToList(),
            // The most recent jobs, like the state counts: months of jobs would bury today's in one chart.
            durations.OrderByDescending(d => d.At).Take(MaxStatusDocuments).Select(d => d.Point).ToList());
    }

    // Counts of the most recently updated jobs by state and kind, from the job-state index (one conditional GET); storage
    // no publisher or worker has indexed yet is counted from the newest status documents, as before the index.
    private async Task<(Dictionary<string, int> Counts, Dictionary<string, int> ByKind)> JobStatesAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<JobStatus>? states = null;
        try { states = (await reader.GetJsonAsync<FeedPage<JobStatus>>(JobStateIndex.HeadPath, cancellationToken))?.Entries; }
        catch (System.Text.Json.JsonException) { } // an unreadable index falls back to the scan
        states ??= await JobStateIndex.ScanAsync(store, cancellationToken);
        var counts = Enum.GetValues<JobState>().ToDictionary(s => s.ToString().ToLowerInvariant(), _ => 0);
        var byKind = new Dictionary<string, int>();
        foreach (var s in states.OrderByDescending(s => s.UpdatedAt).Take(MaxStatusDocuments))
        {
            counts[s.State.ToString().ToLowerInvariant()]++;
            var kind = s.Kind.ToString().ToLowerInvariant();
            byKind[kind] = byKind.GetValueOrDefault(kind) + 1;
        }
        return (counts, byKind);
    }

    /// <summary>
    /// The metric records: the metric index's head (<see cref="MetricIndex"/>, one conditional GET), or, where no worker
    /// has indexed yet, every record under metrics/ (the scan the index replaces).
    /// </summary>
    private async Task<IReadOnlyList<MetricRecord>> MetricIndexRecordsAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (await reader.GetJsonAsync<FeedPage<MetricRecord>>(MetricIndex.HeadPath, cancellationToken) is { } head) return head.Entries;
        }
        catch (System.Text.Json.JsonException)
        {
            // an unreadable index falls back to the scan
        }
        return await MetricIndex.ScanAsync(store, cancellationToken);
    }

    private async Task<List<object>> GalleryAsync(int size, CancellationToken cancellationToken)
    {
        var items = new List<object>();
        if (size == 0) return items;
        // Generated works: augmentation batches (StyleGAN v1/v2 samples) and translation/projection outputs, from the
        // gallery index (GalleryApi reads the same one).
        var entries = await GalleryApi.IndexEntriesAsync(reader, store, MaxResultDocuments, cancellationToken);
        foreach (var manifest in entries.Where(e => e.Batch is not null).OrderByDescending(e => e.At).ThenBy(e => e.Path, StringComparer.Ordinal).Select(e => e.Batch!))
        {
            if (items.Count >= size) break;
            foreach (var item in manifest.Items.Take(Math.Max(1, size / 4)))
            {
                if (items.Count >= size) break;
                if (!item.Path.StartsWith(BlobLayout.DatasetPrefix(manifest.BatchId), StringComparison.Ordinal)) continue;
                items.Add(new
                {
                    title = $"{manifest.Job.Operation} · {manifest.BatchId} · seed {item.Seed}",
                    model = manifest.Job.Model.Path,
                    family = Family(manifest.Job.Family),
                    createdAt = manifest.CreatedAt.ToUnixTimeSeconds(),
                    url = await links.SignAsync(item.Path, sas.DefaultLifetime, cancellationToken),
                });
            }
        }
        foreach (var r in entries.Where(e => e.Result is not null).OrderByDescending(e => e.At).ThenBy(e => e.Path, StringComparer.Ordinal).Take(MaxResultDocuments).Select(e => e.Result!))
        {
            foreach (var o in r.Outputs.Where(o => o.ContentType.StartsWith("image/", StringComparison.Ordinal)))
            {
                if (items.Count >= size) break;
                if (!o.Path.StartsWith(BlobLayout.ResultsPrefix(r.JobId), StringComparison.Ordinal)) continue;
                items.Add(new
                {
                    title = $"{Path.GetFileName(o.Path)} · {r.FinishedAt:yyyy-MM-dd HH:mm}",
                    model = r.Job.Model.Path,
                    family = r.Job is AugmentationBatchJob a ? Family(a.Family) : r.Kind.ToString(),
                    createdAt = r.FinishedAt.ToUnixTimeSeconds(),
                    url = await links.SignAsync(o.Path, sas.DefaultLifetime, cancellationToken),
                });
            }
        }
        return items;
    }

    /// <summary>A family's display name on the dashboard and the gallery.</summary>
    internal static string Family(StyleGanFamily f) => f == StyleGanFamily.StyleGan1 ? "StyleGAN v1" : "StyleGAN2";
}

/// <summary>The dashboard's static files, embedded as resources (Dashboard/assets/*).</summary>
public static class DashboardAssets
{
    private static readonly Dictionary<string, (string ContentType, string Text)> Assets = Load();

    /// <summary>An asset by file name (no paths: nothing outside the embedded set can be served).</summary>
    public static (string ContentType, string Text)? TryGet(string name) => Assets.TryGetValue(name, out var a) ? a : null;

    private static Dictionary<string, (string, string)> Load()
    {
        var asm = Assembly.GetExecutingAssembly();
        var map = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
        foreach (var res in asm.GetManifestResourceNames().Where(n => n.StartsWith("dashboard/", StringComparison.Ordinal)))
        {
            using var s = asm.GetManifestResourceStream(res)!;
            using var reader = new StreamReader(s);
            var name = res["dashboard/".Length..];
            var type = Path.GetExtension(name) switch
            {
                ".html" => "text/html; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".css" => "text/css; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "text/plain; charset=utf-8",
            };
            map[name] = (type, reader.ReadToEnd());
        }
        return map;
    }
}
