using System.CommandLine;
using Pipeline.Engine.Metrics;
using Spectre.Console;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>`pipeline models list|fetch`: the metric feature networks' weights cache.</summary>
public sealed class ModelsCommand : ICliCommand
{
    public Command Build()
    {
        var models = MetricsCli.ModelsDirOption();
        var list = new Command("list", "Show the feature-network weights, where they come from and whether they are cached.") { models };
        list.SetAction(parse =>
        {
            var store = MetricsCli.Store(parse.GetValue(models));
            var table = new Table().AddColumn("id").AddColumn("file").AddColumn("cached").AddColumn("url");
            foreach (var f in FeatureNetworks.All)
                table.AddRow(f.Id, f.FileName, store.Find(f) ?? "-", f.Url);
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"cache: {store.Options.CacheDirectory}");
            return 0;
        });
        var name = new Argument<string>("name") { Description = "inception, vgg16 (trunk + LPIPS heads) or lpips-vgg." };
        var fetch = new Command("fetch", "Download official weights into the cache and verify their SHA-256 (needs internet).") { name, models };
        fetch.SetAction(async (parse, ct) =>
        {
            var store = MetricsCli.Store(parse.GetValue(models));
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(30) };
            foreach (var f in FeatureNetworks.ForName(parse.GetValue(name)!))
            {
                string path = "";
                await AnsiConsole.Progress().StartAsync(async p =>
                {
                    var task = p.AddTask(f.FileName, maxValue: 1);
                    path = await store.FetchAsync(f, http, new SyncProgress<(long Done, long? Total)>(x =>
                    {
                        if (x.Total is > 0) { task.MaxValue = x.Total.Value; task.Value = x.Done; }
                    }), ct);
                    task.Value = task.MaxValue;
                });
                AnsiConsole.MarkupLineInterpolated($"[green]{f.Id}[/]: {path} (sha256 verified)");
            }
            return 0;
        });
        return new Command("models", "Metric feature-network weights (Inception for FID, VGG16 + heads for LPIPS/PPL).") { list, fetch };
    }
}
