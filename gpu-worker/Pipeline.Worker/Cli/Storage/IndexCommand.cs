using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Infra.Indexes;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Hosting;
using Spectre.Console;

namespace Pipeline.Worker.Cli.Storage;

/// <summary>
/// `pipeline index rebuild`: rebuilds the gallery, metric and job-state indexes the pages read, from one full scan of
/// the storage the worker is configured for (Pipeline__Storage__*). Run it once on storage written before the indexes
/// existed, or after an index write failed, so that no page request has to scan.
/// </summary>
public sealed class IndexCommand : ICliCommand
{
    public Command Build()
    {
        var rebuild = new Command("rebuild", "Rebuild datasets/.index/gallery.json, metrics/.index/records.json and status/.index/jobs.json from a full scan of the configured storage.");
        rebuild.SetAction(async (_, ct) =>
        {
            using var host = WorkerHost.CreateCliHost();
            var (gallery, metrics, jobs) = await RebuildAsync(host.Services.GetRequiredService<IBlobStore>(), ct);
            AnsiConsole.MarkupLineInterpolated($"indexed {gallery} gallery documents, {metrics} metric records, {jobs} job states");
            return 0;
        });
        return new Command("index", "The indexes the gallery and dashboard read (the worker keeps them current).") { rebuild };
    }

    /// <summary>Replaces all three indexes with what a full scan finds; returns how many entries each got.</summary>
    public static async Task<(int Gallery, int Metrics, int Jobs)> RebuildAsync(IBlobStore store, CancellationToken ct) =>
        (await GalleryIndex.RebuildAsync(store, ct), await MetricIndex.RebuildAsync(store, ct), await JobStateIndex.RebuildAsync(store, ct));
}
