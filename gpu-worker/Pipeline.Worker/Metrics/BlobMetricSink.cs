using System.Text;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Infra.Storage;

namespace Pipeline.Worker.Metrics;

/// <summary>Writes metric records to blob storage: one small JSON-lines blob per evaluation (create-only, never appended).</summary>
public sealed class BlobMetricSink(IBlobStore store) : IMetricSink
{
    public async Task WriteLineAsync(string path, string line, CancellationToken ct)
    {
        using var content = new MemoryStream(Encoding.UTF8.GetBytes(line + "\n"));
        await store.PutAsync(path, content, new BlobPutOptions
        {
            ContentType = "application/x-ndjson",
            Conditions = new BlobConditions { IfNoneMatch = "*" },
        }, ct);
    }
}
