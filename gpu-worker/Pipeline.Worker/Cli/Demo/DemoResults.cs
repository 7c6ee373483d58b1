using System.Globalization;
using System.Text.Json;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Worker.Cli.Demo;

/// <summary>What the demo's results table says about one job: where its result is and what a reader should know.</summary>
internal static class DemoResults
{
    /// <summary>The result document's blob path (or null) and a one-line summary.</summary>
    public static async Task<(string? ResultPath, string Detail)> DescribeAsync(IBlobStore store, JobEnvelope job, JobStatus? status, CancellationToken ct)
    {
        var result = await store.GetJsonAsync<JobResult>(BlobLayout.ResultDocument(job.JobId), ct);
        if (result is null) return (null, status?.Message ?? "");
        // A succeeded job with a note did not do everything (a metric without its weights): the note says what.
        var detail = result.Note ?? (result.Outputs.Count == 1 ? "1 file" : $"{result.Outputs.Count} files");
        if (job.Kind == JobKind.Projection && await VerdictAsync(store, job.JobId, ct) is { } verdict)
            detail += "; " + verdict;
        return (BlobLayout.ResultDocument(job.JobId), detail);
    }

    /// <summary>
    /// The projection report's generated-image verdict: LPIPS distance of the projection against the threshold below
    /// which an image probably came from the generator, or why there is none.
    /// </summary>
    internal static async Task<string?> VerdictAsync(IBlobStore store, string jobId, CancellationToken ct)
    {
        var bytes = await store.GetBytesAsync(BlobLayout.Result(jobId, "projection.json"), ct);
        if (bytes is null) return null;
        using var doc = JsonDocument.Parse(bytes.Value.Bytes);
        var r = doc.RootElement;
        double threshold = r.GetProperty("threshold").GetDouble(), mse = r.GetProperty("mse").GetDouble();
        if (r.GetProperty("lpips") is { ValueKind: JsonValueKind.Number } lp)
        {
            double d = lp.GetDouble();
            return d < threshold
                ? string.Create(CultureInfo.InvariantCulture, $"LPIPS {d:F3} < {threshold:F2}: likely generated")
                : string.Create(CultureInfo.InvariantCulture, $"LPIPS {d:F3} >= {threshold:F2}: not flagged as generated");
        }
        return string.Create(CultureInfo.InvariantCulture, $"no generated-image verdict (LPIPS needs the VGG16 weights; MSE {mse:F4})");
    }
}
