using System.CommandLine;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Metrics;
using Pipeline.Worker.Operations.Metrics;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>Options and helpers shared by the metric commands.</summary>
internal static class MetricsCli
{
    public static Option<string?> ModelsDirOption() => new("--models-dir") { Description = "Feature-network cache (default $PIPELINE_MODELS or ~/.cache/pipeline/models)." };

    /// <summary>
    /// Where a command prints its result line: System.CommandLine's invocation output, which is Console.Out unless
    /// the caller gives another writer (tests do, instead of swapping the process-wide Console.Out, which would also
    /// capture whatever tests running beside them print).
    /// </summary>
    public static TextWriter Output(ParseResult parse) => parse.InvocationConfiguration.Output;

    public static Option<int> BatchOption(int def) => new("--batch") { Description = "Images per batch.", DefaultValueFactory = _ => def };

    public static FeatureNetworkStore Store(string? dir, IReadOnlyDictionary<string, string>? files = null) => Hosting.FeatureNetworkLocation.Store(dir, files);

    /// <summary>Statistics of a folder of images (with a progress bar).</summary>
    public static Task<GaussianStats> FolderStatsAsync(FidFeatureExtractor extractor, string folder, int batch, CancellationToken ct) =>
        WithProgressAsync(extractor, folder, batch, (b, p) => extractor.StatsAsync(b, p, ct));

    /// <summary>Feature rows [N, dims] of a folder of images, for KID (with a progress bar).</summary>
    public static Task<Tensor> FolderFeaturesAsync(FidFeatureExtractor extractor, string folder, int batch, CancellationToken ct) =>
        WithProgressAsync(extractor, folder, batch, (b, p) => extractor.FeaturesAsync(b, p, ct));

    /// <summary>Statistics and feature rows of a folder in one pass (`pipeline stats --features`).</summary>
    public static Task<(GaussianStats Stats, Tensor Features)> FolderStatsAndFeaturesAsync(FidFeatureExtractor extractor, string folder, int batch, CancellationToken ct) =>
        WithProgressAsync(extractor, folder, batch, (b, p) => extractor.StatsAndFeaturesAsync(b, p, ct));

    private static async Task<T> WithProgressAsync<T>(FidFeatureExtractor extractor, string folder, int batch, Func<IAsyncEnumerable<Tensor>, IProgress<long>, Task<T>> run)
    {
        var files = MetricImages.List(folder);
        T result = default!;
        await CliProgress.RunAsync(async add =>
        {
            var task = add($"Inception features of {Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}", files.Length);
            result = await run(MetricImages.Batches(files, batch, extractor.Device), new SyncProgress<long>(n => task.Set(n)));
        });
        return result;
    }

    /// <summary>The evaluation context of a command: weights (a test's stand-in store, else --models-dir), device, batch.</summary>
    public static MetricContext Context(FeatureNetworkStore? weights, ParseResult parse, Option<string> device, Option<string?> models, Option<int> batch) => new()
    {
        Weights = weights ?? Store(parse.GetValue(models)),
        Device = Pipeline.Engine.Devices.Parse(parse.GetValue(device)!),
        Batch = parse.GetValue(batch),
    };

    public static Option<DirectoryInfo?> RecordOption() => new("--record")
    {
        Description = "Also write the evaluation's record as one JSON line under this folder (<metric>/<date>/<time>-<run>.jsonl), the record a metrics job stores.",
    };

    /// <summary>
    /// Evaluates through the jobs' path (<see cref="MetricEvaluation"/>) with a progress bar per reported source, and
    /// writes the record to <paramref name="record"/> when given.
    /// </summary>
    public static async Task<MetricRecord> EvaluateAsync(MetricDefinition definition, MetricContext context, DirectoryInfo? record, CancellationToken ct)
    {
        MetricRecord result = null!;
        await CliProgress.RunAsync(async add =>
        {
            var tasks = new Dictionary<string, CliTask>();
            bool done = false;
            // Engine metrics may report through Progress<T> (thread-pool posts): reports after the display closed are dropped.
            var progress = new SyncProgress<(string Metric, long Done, long Total)>(p =>
            {
                lock (tasks)
                {
                    if (done) return;
                    if (!tasks.TryGetValue(p.Metric, out var task)) tasks[p.Metric] = task = add(p.Metric, Math.Max(1, p.Total));
                    task.Set(p.Done);
                }
            });
            try
            {
                result = await MetricEvaluation.RunAsync(definition, context with { Progress = progress }, record is null ? null : new FileMetricSink(record.FullName), ct);
            }
            finally
            {
                lock (tasks) done = true;
            }
        });
        return result;
    }

    /// <summary>
    /// The exit code of a record that has no value, after one line saying why: 2 for "skipped" (absent weights: never
    /// a number from random weights), 1 for "failed" (bad inputs: one line, not a stack trace); null for "ok".
    /// </summary>
    public static int? NotOk(MetricRecord record)
    {
        if (record.Status == "ok") return null;
        if (record.Status == "skipped")
        {
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipped: {record.Reason}[/]");
            return 2;
        }
        AnsiConsole.MarkupLineInterpolated($"[red]{record.Metric}: {record.Reason}[/]");
        return 1;
    }

    /// <summary>Prints the reason and returns exit code 2 when weights are missing (never a number from random weights).</summary>
    public static int Skipped(WeightsMissingException e)
    {
        AnsiConsole.MarkupLineInterpolated($"[yellow]skipped: {e.Message}[/]");
        return 2;
    }
}

/// <summary>IProgress that reports on the caller's thread (Spectre's progress tasks are thread-safe).</summary>
internal sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
