using System.Text;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Infra.Indexes;
using Pipeline.Infra.Storage;
using IndexedRecord = Pipeline.Infra.Contracts.MetricRecord;

namespace Pipeline.Worker.Metrics;

/// <summary>
/// Writes metric records to blob storage: one small JSON-lines blob per evaluation (create-only, never appended), then
/// adds the record to the metric index the dashboard reads (<see cref="MetricIndex"/>).
/// </summary>
public sealed class BlobMetricSink(IBlobStore store) : IMetricSink
{
    public async Task WriteLineAsync(string path, string line, CancellationToken ct)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        using var content = new MemoryStream(bytes);
        await store.PutAsync(path, content, new BlobPutOptions
        {
            ContentType = "application/x-ndjson",
            Conditions = new BlobConditions { IfNoneMatch = "*" },
        }, ct);
        // The blob above is the record of truth; an index that could not be updated only hides it from the dashboard.
        try { await MetricIndex.RecordAsync(store, Pipeline.Infra.Contracts.JobJson.FromUtf8<IndexedRecord>(Encoding.UTF8.GetBytes(line)), ct); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            System.Diagnostics.Trace.TraceWarning($"metric index not updated for {path}: {e.Message}");
        }
    }
}
