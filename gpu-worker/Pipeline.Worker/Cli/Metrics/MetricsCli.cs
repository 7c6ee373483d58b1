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
        var files = ImageFolder.List(folder);
        T result = default!;
        await CliProgress.RunAsync(async add =>
        {
            var task = add($"Inception features of {Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}", files.Length);
            result = await run(ImageFolder.Batches(files, Math.Min(batch, files.Length), extractor.Device), new SyncProgress<long>(n => task.Set(n)));
        });
        return result;
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
