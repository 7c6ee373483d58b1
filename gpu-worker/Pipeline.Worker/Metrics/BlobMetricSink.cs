using System.Text;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Indexes;
using Pipeline.Infra.Storage;
using Pipeline.Metrics;

namespace Pipeline.Worker.Metrics;

/// <summary>
/// Writes metric records to blob storage: one small JSON-lines blob per evaluation at infra's layout
/// (<see cref="BlobLayout.MetricEvaluation"/>; create-only, never appended), then adds the record to the metric index
/// the dashboard reads (<see cref="MetricIndex"/>).
/// </summary>
public sealed class BlobMetricSink(IBlobStore store) : IMetricSink
{
    public async Task WriteAsync(MetricRecord record, CancellationToken ct)
    {
        var path = BlobLayout.MetricEvaluation(record.Metric, record.Timestamp, record.RunId);
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(record.ToJsonLine() + "\n"));
        await store.PutAsync(path, content, new BlobPutOptions
        {
            ContentType = "application/x-ndjson",
            Conditions = new BlobConditions { IfNoneMatch = "*" },
        }, ct);
        // The blob above is the record of truth; an index that could not be updated only hides it from the dashboard.
        try { await MetricIndex.RecordAsync(store, record, ct); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            System.Diagnostics.Trace.TraceWarning($"metric index not updated for {path}: {e.Message}");
        }
    }
}
