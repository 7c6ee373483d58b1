using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Metrics;

/// <summary>
/// One evaluation of a named metric, written as one JSON line (snake_case keys; schema in docs/metrics.md): what the
/// engine's evaluations produce and what the functions and dashboards read, one type for both. It says nothing about
/// where it is stored: the blob layout is infra's (BlobLayout.MetricEvaluation), a local run's is its sink's.
/// <see cref="Value"/> is null unless <see cref="Status"/> is "ok": a metric whose feature network is missing is
/// "skipped" (<see cref="Reason"/> says why), never a number. It lives in Pipeline.Imaging because that is the one
/// torch-free, storage-free assembly the engine, infra and the functions all reference.
/// </summary>
public sealed record MetricRecord
{
    public const int CurrentSchema = 1;

    [JsonPropertyName("schema")] public int Schema { get; init; } = CurrentSchema;
    [JsonPropertyName("metric")] public required string Metric { get; init; }
    [JsonPropertyName("value")] public double? Value { get; init; }
    /// <summary>ok | skipped | failed.</summary>
    [JsonPropertyName("status")] public required string Status { get; init; }
    [JsonPropertyName("reason")] public string? Reason { get; init; }
    [JsonPropertyName("model_id")] public string? ModelId { get; init; }
    [JsonPropertyName("model_sha256")] public string? ModelSha256 { get; init; }
    /// <summary>Reference dataset (FID) or batch/job id the evaluation belongs to.</summary>
    [JsonPropertyName("dataset")] public string? Dataset { get; init; }
    [JsonPropertyName("images")] public long Images { get; init; }
    /// <summary>Settings of the evaluation; values are numbers, strings or booleans (<see cref="JsonElement"/>s once read back).</summary>
    [JsonPropertyName("settings")] public IReadOnlyDictionary<string, object?> Settings { get; init; } = new Dictionary<string, object?>();
    /// <summary>SHA-256 of the feature network's weights file (Inception or VGG16).</summary>
    [JsonPropertyName("feature_network_sha256")] public string? FeatureNetworkSha256 { get; init; }
    [JsonPropertyName("duration_seconds")] public double DurationSeconds { get; init; }
    /// <summary>Device it ran on ("cpu", "cuda"); the engine always sets it.</summary>
    [JsonPropertyName("device")] public string? Device { get; init; }
    [JsonPropertyName("timestamp")] public DateTimeOffset Timestamp { get; init; }
    [JsonPropertyName("run_id")] public string RunId { get; init; } = Guid.NewGuid().ToString("N")[..12];

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        WriteIndented = false,
    };

    /// <summary>The record as one line of JSON (snake_case keys), without a trailing newline.</summary>
    public string ToJsonLine() => JsonSerializer.Serialize(this, Options);

    /// <summary>A record from one JSON line.</summary>
    public static MetricRecord FromJsonLine(string line) =>
        JsonSerializer.Deserialize<MetricRecord>(line, Options) ?? throw new InvalidDataException("empty metric record");

    /// <summary>A setting as a number, whether set in code or read back from JSON; null when absent or not a number.</summary>
    public double? SettingNumber(string name) => Settings?.GetValueOrDefault(name) switch
    {
        JsonElement { ValueKind: JsonValueKind.Number } e when e.TryGetDouble(out var d) => d,
        double d => d,
        float f => f,
        int i => i,
        long l => l,
        _ => null,
    };

    /// <summary>A setting as a string, whether set in code or read back from JSON; null when absent or not a string.</summary>
    public string? SettingString(string name) => Settings?.GetValueOrDefault(name) switch
    {
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString(),
        string s => s,
        _ => null,
    };
}
