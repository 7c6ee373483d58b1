using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Worker.Operations.Metrics;
using Spectre.Console;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>`pipeline fid A B`: FID between two image folders or pytorch-fid .npz statistics files.</summary>
public sealed class FidCommand : ICliCommand
{
    private readonly FeatureNetworkStore? weights;

    public FidCommand() { }

    /// <summary>Tests pass a store with stand-in weights; the command otherwise finds them from --models-dir.</summary>
    internal FidCommand(FeatureNetworkStore weights) => this.weights = weights;

    public Command Build()
    {
        var a = new Argument<string>("a") { Description = "Image folder or .npz (mu, sigma)." };
        var b = new Argument<string>("b") { Description = "Image folder or .npz (mu, sigma)." };
        var batch = MetricsCli.BatchOption(50);
        var device = CliDevice.Option();
        var models = MetricsCli.ModelsDirOption();
        var dims = new Option<int>("--dims") { Description = "Feature block: 64, 192, 768 or 2048 (pool3).", DefaultValueFactory = _ => 2048 };
        var record = MetricsCli.RecordOption();
        var cmd = new Command("fid", "Frechet Inception Distance (pytorch-fid semantics) between two image folders or statistics files.")
        {
            a, b, batch, device, models, dims, record,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var definition = PairedMetrics.Fid(MetricSide.Parse(parse.GetValue(a)!), MetricSide.Parse(parse.GetValue(b)!), parse.GetValue(dims),
                warn: m => AnsiConsole.MarkupLineInterpolated($"[yellow]{m}[/]"));
            var r = await MetricsCli.EvaluateAsync(definition, MetricsCli.Context(weights, parse, device, models, batch), parse.GetValue(record), ct);
            if (MetricsCli.NotOk(r) is { } code) return code;
            MetricsCli.Output(parse).WriteLine($"FID: {r.Value!.Value:R}");
            return 0;
        });
        return cmd;
    }
}

/// <summary>`pipeline stats FOLDER -o ref.npz`: reference statistics, stored with the feature network's digest.</summary>
public sealed class StatsCommand : ICliCommand
{
    public Command Build()
    {
        var folder = new Argument<string>("folder") { Description = "Folder of images (bmp jpg jpeg pgm png ppm tif tiff webp)." };
        var output = new Option<string>("--output", "-o") { Description = "Output .npz (mu, sigma float64).", Required = true };
        var features = new Option<bool>("--features") { Description = "Also store the feature rows (feats, float32 N x 2048, about 8 KB per image) that `pipeline kid` and kid50k_full need." };
        var batch = MetricsCli.BatchOption(50);
        var device = CliDevice.Option();
        var models = MetricsCli.ModelsDirOption();
        var cmd = new Command("stats", "Compute FID statistics (pytorch-fid .npz) of an image folder; reuse them as the reference side of `pipeline fid` (and, with --features, of `pipeline kid`).")
        {
            folder, output, features, batch, device, models,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            try
            {
                var (model, sha) = await MetricsCli.Store(parse.GetValue(models)).LoadInceptionAsync(ct);
                using var _ = model;
                var extractor = new FidFeatureExtractor(model, Devices.Parse(parse.GetValue(device)!));
                var dir = parse.GetValue(folder)!;
                var outPath = parse.GetValue(output)!;
                var info = new FidStatsInfo { FeatureNetworkSha256 = sha, Source = Path.GetFullPath(dir) };
                GaussianStats stats;
                if (parse.GetValue(features))
                {
                    var (s, feats) = await MetricsCli.FolderStatsAndFeaturesAsync(extractor, dir, parse.GetValue(batch), ct);
                    using (feats) FidStatsFile.Save(outPath, s, info, feats);
                    stats = s;
                }
                else
                {
                    stats = await MetricsCli.FolderStatsAsync(extractor, dir, parse.GetValue(batch), ct);
                    FidStatsFile.Save(outPath, stats, info);
                }
                MetricsCli.Output(parse).WriteLine($"wrote {outPath} ({stats.Count} images, {stats.Dims} dims{(parse.GetValue(features) ? ", with feature rows" : "")}) and {outPath}.json");
                return 0;
            }
            catch (WeightsMissingException e)
            {
                return MetricsCli.Skipped(e);
            }
        });
        return cmd;
    }
}
