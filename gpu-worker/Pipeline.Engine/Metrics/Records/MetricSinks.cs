using Pipeline.Metrics;

namespace Pipeline.Engine.Metrics.Records;

/// <summary>
/// Where metric records go. The engine knows nothing of storage: each sink decides where a record lands (the worker's
/// blob sink uses infra's blob layout, tests and the CLI use <see cref="FileMetricSink"/>).
/// </summary>
public interface IMetricSink
{
    Task WriteAsync(MetricRecord record, CancellationToken ct);
}

/// <summary>A sink made of a delegate.</summary>
public sealed class DelegateMetricSink(Func<MetricRecord, CancellationToken, Task> write) : IMetricSink
{
    public Task WriteAsync(MetricRecord record, CancellationToken ct) => write(record, ct);
}

/// <summary>
/// Writes each record as one JSON line under a local root folder: &lt;metric&gt;/&lt;yyyy-MM-dd&gt;/&lt;HHmmssfff&gt;-&lt;run id&gt;.jsonl
/// (one file per evaluation, as the worker's blobs; creates folders as needed).
/// </summary>
public sealed class FileMetricSink(string root) : IMetricSink
{
    public string Root { get; } = root;

    /// <summary>Path of a record's file, relative to <see cref="Root"/>.</summary>
    public static string RelativePath(MetricRecord r) =>
        Path.Combine(r.Metric, r.Timestamp.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            r.Timestamp.UtcDateTime.ToString("HHmmssfff", System.Globalization.CultureInfo.InvariantCulture) + "-" + r.RunId + ".jsonl");

    public async Task WriteAsync(MetricRecord record, CancellationToken ct)
    {
        var path = RelativePath(record);
        var line = record.ToJsonLine();
        var full = Path.GetFullPath(Path.Combine(Root, path));
        if (!full.StartsWith(Path.GetFullPath(Root), StringComparison.Ordinal))
            throw new ArgumentException($"metric '{record.Metric}' (path '{path}') leaves the sink root", nameof(record));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        await File.AppendAllTextAsync(full, line + "\n", ct);
    }
}
