using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Engine.Metrics.Records;

/// <summary>
/// One evaluation of a named metric, written as one JSON line (schema in docs/metrics.md). <see cref="Value"/> is null
/// unless <see cref="Status"/> is "ok": a metric whose feature network is missing is "skipped", never a number.
/// </summary>
public sealed record MetricRecord
{
    public const int CurrentSchema = 1;

    public int Schema { get; init; } = CurrentSchema;
    public required string Metric { get; init; }
    public double? Value { get; init; }
    /// <summary>ok | skipped | failed.</summary>
    public required string Status { get; init; }
    public string? Reason { get; init; }
    public string? ModelId { get; init; }
    public string? ModelSha256 { get; init; }
    /// <summary>Reference dataset (FID) or batch/job id the evaluation belongs to.</summary>
    public string? Dataset { get; init; }
    public long Images { get; init; }
    public IReadOnlyDictionary<string, object?> Settings { get; init; } = new Dictionary<string, object?>();
    /// <summary>SHA-256 of the feature network's weights file (Inception or VGG16).</summary>
    public string? FeatureNetworkSha256 { get; init; }
    public double DurationSeconds { get; init; }
    public required string Device { get; init; }
    public DateTimeOffset Timestamp { get; init; }
    public string RunId { get; init; } = Guid.NewGuid().ToString("N")[..12];

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        WriteIndented = false,
    };

    /// <summary>The record as one line of JSON (snake_case keys), without a trailing newline.</summary>
    public string ToJsonLine() => JsonSerializer.Serialize(this, Options);

    public static MetricRecord FromJsonLine(string line) =>
        JsonSerializer.Deserialize<MetricRecord>(line, Options) ?? throw new InvalidDataException("empty metric record");

    /// <summary>Storage path: metrics/&lt;metric&gt;/&lt;yyyy-MM-dd&gt;/&lt;HHmmssfff&gt;-&lt;run id&gt;.jsonl (one object per evaluation, no appends).</summary>
    public string StoragePath() =>
        $"metrics/{Metric}/{Timestamp.UtcDateTime:yyyy-MM-dd}/{Timestamp.UtcDateTime:HHmmssfff}-{RunId}.jsonl";
}

/// <summary>
/// Where metric lines go. The engine knows nothing of Azure: the worker adapts this to blob storage
/// (e.g. an IBlobStore upload of path/line), tests and the CLI use <see cref="FileMetricSink"/>.
/// </summary>
public interface IMetricSink
{
    Task WriteLineAsync(string path, string line, CancellationToken ct);
}

/// <summary>A sink made of a delegate.</summary>
public sealed class DelegateMetricSink(Func<string, string, CancellationToken, Task> write) : IMetricSink
{
    public Task WriteLineAsync(string path, string line, CancellationToken ct) => write(path, line, ct);
}

/// <summary>Appends lines under a local root folder (creates folders as needed).</summary>
public sealed class FileMetricSink(string root) : IMetricSink
{
    public string Root { get; } = root;

    public async Task WriteLineAsync(string path, string line, CancellationToken ct)
    {
        var full = Path.GetFullPath(Path.Combine(Root, path));
        if (!full.StartsWith(Path.GetFullPath(Root), StringComparison.Ordinal))
            throw new ArgumentException($"metric path '{path}' leaves the sink root", nameof(path));
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        await File.AppendAllTextAsync(full, line + "\n", ct);
    }
}
