namespace Pipeline.Infra.Contracts;

/// <summary>
/// The one blob layout. Paths are "&lt;area&gt;/&lt;name&gt;": in Azure the area is a container, locally a folder.
/// Every method validates its user-derived part, so a path built here never escapes its area.
/// </summary>
public static class BlobLayout
{
    /// <summary>User input, written by users; the blob trigger watches it.</summary>
    public const string Uploads = "uploads";
    /// <summary>Job outputs: results/&lt;jobId&gt;/...</summary>
    public const string Results = "results";
    /// <summary>Rejection reasons: rejected/&lt;uploadId&gt;.json.</summary>
    public const string Rejected = "rejected";
    /// <summary>Job status documents: status/&lt;jobId&gt;.json.</summary>
    public const string Status = "status";
    /// <summary>Augmentation batches: datasets/&lt;batchId&gt;/... + manifest.json.</summary>
    public const string Datasets = "datasets";
    /// <summary>Metric logs: metrics/&lt;metric&gt;/&lt;series&gt;.jsonl.</summary>
    public const string Metrics = "metrics";
    /// <summary>Model checkpoints (+ "&lt;name&gt;.sha256").</summary>
    public const string Models = "models";

    /// <summary>All areas (Azure containers), in a stable order.</summary>
    public static IReadOnlyList<string> Areas { get; } = [Uploads, Results, Rejected, Status, Datasets, Metrics, Models];

    /// <summary>File name of a job's result document.</summary>
    public const string ResultFileName = "result.json";
    /// <summary>File name of a dataset manifest.</summary>
    public const string ManifestFileName = "manifest.json";

    /// <summary>uploads/&lt;name&gt;.</summary>
    public static string Upload(string name) => Join(Uploads, BlobNames.RequireSafeRelative(name));

    /// <summary>The upload id of an uploads/ path: the part after "uploads/" (throws for other paths).</summary>
    public static string UploadIdOf(string uploadPath)
    {
        var (area, rest) = Split(uploadPath);
        if (area != Uploads) throw new ArgumentException($"'{uploadPath}' is not under {Uploads}/.", nameof(uploadPath));
        return rest;
    }

    /// <summary>results/&lt;jobId&gt;/ (with the trailing slash: a listing prefix).</summary>
    public static string ResultsPrefix(string jobId) => Join(Results, BlobNames.RequireSafeId(jobId, nameof(jobId))) + "/";

    /// <summary>results/&lt;jobId&gt;/&lt;file&gt;.</summary>
    public static string Result(string jobId, string file) => ResultsPrefix(jobId) + BlobNames.RequireSafeRelative(file, nameof(file));

    /// <summary>results/&lt;jobId&gt;/result.json.</summary>
    public static string ResultDocument(string jobId) => Result(jobId, ResultFileName);

    /// <summary>rejected/&lt;uploadId&gt;.json.</summary>
    public static string Rejection(string uploadId) => Join(Rejected, BlobNames.RequireSafeRelative(uploadId, nameof(uploadId)) + ".json");

    /// <summary>status/&lt;jobId&gt;.json.</summary>
    public static string StatusDocument(string jobId) => Join(Status, BlobNames.RequireSafeId(jobId, nameof(jobId)) + ".json");

    /// <summary>datasets/&lt;batchId&gt;/ (listing prefix).</summary>
    public static string DatasetPrefix(string batchId) => Join(Datasets, BlobNames.RequireSafeId(batchId, nameof(batchId))) + "/";

    /// <summary>datasets/&lt;batchId&gt;/&lt;file&gt;.</summary>
    public static string DatasetItem(string batchId, string file) => DatasetPrefix(batchId) + BlobNames.RequireSafeRelative(file, nameof(file));

    /// <summary>datasets/&lt;batchId&gt;/manifest.json.</summary>
    public static string DatasetManifest(string batchId) => DatasetItem(batchId, ManifestFileName);

    /// <summary>metrics/&lt;metric&gt;/ (listing prefix).</summary>
    public static string MetricPrefix(string metric) => Join(Metrics, BlobNames.RequireSafeId(metric, nameof(metric))) + "/";

    /// <summary>metrics/&lt;metric&gt;/&lt;series&gt;.jsonl: one JSON object per evaluation.</summary>
    public static string MetricLog(string metric, string series = "all") => MetricPrefix(metric) + BlobNames.RequireSafeId(series, nameof(series)) + ".jsonl";

    /// <summary>The blob of one evaluation: metrics/&lt;metric&gt;/&lt;yyyy-MM-dd&gt;/&lt;HHmmssfff&gt;-&lt;runId&gt;.jsonl (what the engine's records write).</summary>
    public static string MetricEvaluation(string metric, DateTimeOffset at, string runId) =>
        MetricPrefix(metric) + at.UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture) + "/" +
        at.UtcDateTime.ToString("HHmmssfff", System.Globalization.CultureInfo.InvariantCulture) + "-" + BlobNames.RequireSafeId(runId, nameof(runId)) + ".jsonl";

    /// <summary>models/&lt;name&gt;.</summary>
    public static string Model(string name) => Join(Models, BlobNames.RequireSafeRelative(name));

    /// <summary>models/&lt;name&gt;.sha256: the checkpoint's hex SHA-256, checked before loading.</summary>
    public static string ModelHash(string name) => Model(name) + ".sha256";

    /// <summary>Splits "area/rest" and validates both parts (area must be a known area).</summary>
    public static (string Area, string Name) Split(string path)
    {
        BlobNames.RequireSafeRelative(path, nameof(path));
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == path.Length - 1)
            throw new ArgumentException($"Blob path '{path}' must be '<area>/<name>' with area one of: {string.Join(", ", Areas)}.", nameof(path));
        var area = path[..slash];
        if (!Areas.Contains(area))
            throw new ArgumentException($"Blob path '{path}' is not in a known area ({string.Join(", ", Areas)}).", nameof(path));
        return (area, path[(slash + 1)..]);
    }

    /// <summary>
    /// Splits a listing prefix: "results/abc/" -> ("results", "abc/"); a bare area ("results" or "results/") lists the whole area.
    /// </summary>
    public static (string Area, string NamePrefix) SplitPrefix(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var slash = prefix.IndexOf('/', StringComparison.Ordinal);
        var area = slash < 0 ? prefix : prefix[..slash];
        var rest = slash < 0 ? "" : prefix[(slash + 1)..];
        if (!Areas.Contains(area))
            throw new ArgumentException($"List prefix '{prefix}' must start with a known area ({string.Join(", ", Areas)}).", nameof(prefix));
        if (rest.Length > 0 && (rest.Contains("..", StringComparison.Ordinal) || rest.StartsWith('/') || rest.Contains('\\') || rest.Length > BlobNames.MaxRelativeLength))
            throw new ArgumentException($"Unsafe list prefix '{prefix}'.", nameof(prefix));
        return (area, rest);
    }

    private static string Join(string area, string rest) => area + "/" + rest;
}
