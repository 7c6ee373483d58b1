using Pipeline.Engine;
using System.CommandLine;
using System.Globalization;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Kid;
using Pipeline.Worker.Operations.Metrics;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>
/// `pipeline kid A B`: Kernel Inception Distance (clean-fid's compute_kid: A gives feats1, B feats2) between image
/// folders or .npz files holding feature rows (`pipeline stats --features`). mu/sigma alone cannot give KID.
/// </summary>
public sealed class KidCommand : ICliCommand
{
    private readonly FeatureNetworkStore? weights;

    public KidCommand() { }

    /// <summary>Tests pass a store with stand-in weights; the command otherwise finds them from --models-dir.</summary>
    internal KidCommand(FeatureNetworkStore weights) => this.weights = weights;

    public Command Build()
    {
        var a = new Argument<string>("a") { Description = "Image folder or .npz with feature rows (feats)." };
        var b = new Argument<string>("b") { Description = "Image folder or .npz with feature rows (feats), e.g. the target domain's reference." };
        var subsets = new Option<int>("--subsets") { Description = "Number of subsets (clean-fid num_subsets).", DefaultValueFactory = _ => new KidOptions().NumSubsets };
        var maxSubset = new Option<int>("--max-subset-size") { Description = "Largest subset; m = min(|A|, |B|, this).", DefaultValueFactory = _ => new KidOptions().MaxSubsetSize };
        var seed = new Option<long>("--seed") { Description = "Seed of the subset draws.", DefaultValueFactory = _ => 0 };
        var batch = MetricsCli.BatchOption(50);
        var device = CliDevice.Option();
        var models = MetricsCli.ModelsDirOption();
        var recordDir = MetricsCli.RecordOption();
        var cmd = new Command("kid", "Kernel Inception Distance (clean-fid / stylegan2-ada estimator, float64) between two image folders or feature files.")
        {
            a, b, subsets, maxSubset, seed, batch, device, models, recordDir,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var o = new KidOptions { NumSubsets = parse.GetValue(subsets), MaxSubsetSize = parse.GetValue(maxSubset), Seed = parse.GetValue(seed) };
            string? shape = null;
            var definition = PairedMetrics.Kid(MetricSide.Parse(parse.GetValue(a)!), MetricSide.Parse(parse.GetValue(b)!), o,
                (r, na, nb) => shape = $"{r.NumSubsets} subsets of {r.SubsetSize} rows (|A| = {na}, |B| = {nb}, seed {o.Seed})");
            var record = await MetricsCli.EvaluateAsync(definition, MetricsCli.Context(weights, parse, device, models, batch), parse.GetValue(recordDir), ct);
            if (MetricsCli.NotOk(record) is { } code) return code;
            MetricsCli.Output(parse).WriteLine(shape);
            MetricsCli.Output(parse).WriteLine("KID: " + record.Value!.Value.ToString("R", CultureInfo.InvariantCulture));
            return 0;
        });
        return cmd;
    }
}
