using System.Globalization;
using System.Text.Json;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Metrics;

namespace Pipeline.Infra.Indexes;

/// <summary>
/// The metric index: metrics/.index/records.json, a <see cref="BlobFeed{T}"/> of the newest <see cref="Capacity"/>
/// metric records (quality evaluations and the worker's per-job duration records), so the dashboard reads one blob
/// instead of one per evaluation. The worker adds each record after writing its own blob (which stays the record of
/// truth); a missing index is seeded once from a scan of metrics/.
/// </summary>
public static class MetricIndex
{
    /// <summary>The head blob.</summary>
    public const string HeadPath = BlobLayout.Metrics + "/.index/records.json";
    /// <summary>Records in the head.</summary>
    public const int Capacity = 2000;

    /// <summary>The feed over <paramref name="store"/>.</summary>
    public static BlobFeed<MetricRecord> Feed(IBlobStore store) => new(store, HeadPath, Key, r => r.Timestamp, Capacity);

    /// <summary>A record's identity in the index (metric, time, run).</summary>
    public static string Key(MetricRecord r) =>
        r.Metric + "|" + r.Timestamp.UtcTicks.ToString(CultureInfo.InvariantCulture) + "|" + r.RunId;

    /// <summary>Adds one record (seeding a missing index from a scan first).</summary>
    public static Task RecordAsync(IBlobStore store, MetricRecord record, CancellationToken cancellationToken = default) =>
        Feed(store).AddAsync([record], ct => ScanAsync(store, ct), cancellationToken);

    /// <summary>Rebuilds the index from a full scan (what a missing index is seeded with); returns the records found.</summary>
    public static Task<int> RebuildAsync(IBlobStore store, CancellationToken cancellationToken = default) =>
        Feed(store).RebuildAsync(ct => ScanAsync(store, ct), cancellationToken);

    /// <summary>Every record under metrics/ (the full listing the index avoids); unreadable blobs are skipped.</summary>
    public static async Task<IReadOnlyList<MetricRecord>> ScanAsync(IBlobStore store, CancellationToken cancellationToken = default)
    {
        var records = new List<MetricRecord>();
        await foreach (var blob in store.ListAsync(BlobLayout.Metrics + "/", cancellationToken))
        {
            if (!blob.Path.EndsWith(".jsonl", StringComparison.Ordinal)) continue;
            try { records.AddRange(await store.ReadJsonLinesAsync<MetricRecord>(blob.Path, cancellationToken)); }
            catch (JsonException) { } // a half-written line must not take the dashboard down
        }
        return records;
    }
}
