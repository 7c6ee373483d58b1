using System.CommandLine;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>Options and helpers shared by the metric commands.</summary>
internal static class MetricsCli
{
    public static Option<string?> ModelsDirOption() => new("--models-dir") { Description = "Feature-network cache (default $PIPELINE_MODELS or ~/.cache/pipeline/models)." };
    public static Option<int> BatchOption(int def) => new("--batch") { Description = "Images per batch.", DefaultValueFactory = _ => def };

    public static FeatureNetworkStore Store(string? dir, IReadOnlyDictionary<string, string>? files = null) => new(new FeatureNetworkOptions
    {
        CacheDirectory = string.IsNullOrWhiteSpace(dir) ? FeatureNetworkOptions.DefaultCacheDirectory() : dir,
        Files = files ?? new Dictionary<string, string>(),
    });

    /// <summary>Statistics of a folder of images (with a progress bar).</summary>
    public static async Task<GaussianStats> FolderStatsAsync(FidFeatureExtractor extractor, string folder, int batch, CancellationToken ct)
    {
        var files = ImageFolder.List(folder);
        GaussianStats? stats = null;
        await CliProgress.RunAsync(async add =>
        {
            var task = add($"Inception features of {Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}", files.Length);
            stats = await extractor.StatsAsync(ImageFolder.Batches(files, Math.Min(batch, files.Length), extractor.Device),
                new SyncProgress<long>(n => task.Set(n)), ct);
        });
        return stats!;
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
