using Pipeline.Engine;
using System.CommandLine;
using System.Globalization;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Kid;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>
/// `pipeline kid A B`: Kernel Inception Distance (clean-fid's compute_kid: A gives feats1, B feats2) between image
/// folders or .npz files holding feature rows (`pipeline stats --features`). mu/sigma alone cannot give KID.
/// </summary>
public sealed class KidCommand : ICliCommand
{
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
        var cmd = new Command("kid", "Kernel Inception Distance (clean-fid / stylegan2-ada estimator, float64) between two image folders or feature files.")
        {
            a, b, subsets, maxSubset, seed, batch, device, models,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var feats = new Tensor?[2];
            FidInceptionV3? model = null;
            try
            {
                var paths = new[] { parse.GetValue(a)!, parse.GetValue(b)! };
                FidFeatureExtractor? extractor = null;
                for (int i = 0; i < 2; i++)
                {
                    if (File.Exists(paths[i]) && paths[i].EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
                    {
                        feats[i] = FidStatsFile.LoadFeatures(paths[i]);
                        continue;
                    }
                    if (extractor is null)
                    {
                        (model, _) = await MetricsCli.Store(parse.GetValue(models)).LoadInceptionAsync(ct);
                        extractor = new FidFeatureExtractor(model, Devices.Parse(parse.GetValue(device)!));
                    }
                    feats[i] = await MetricsCli.FolderFeaturesAsync(extractor, paths[i], parse.GetValue(batch), ct);
                }
                var o = new KidOptions { NumSubsets = parse.GetValue(subsets), MaxSubsetSize = parse.GetValue(maxSubset), Seed = parse.GetValue(seed) };
                var r = KernelInceptionDistance.Compute(feats[0]!, feats[1]!, o);
                Console.WriteLine($"{r.NumSubsets} subsets of {r.SubsetSize} rows (|A| = {feats[0]!.shape[0]}, |B| = {feats[1]!.shape[0]}, seed {o.Seed})");
                Console.WriteLine("KID: " + r.Value.ToString("R", CultureInfo.InvariantCulture));
                return 0;
            }
            catch (WeightsMissingException e)
            {
                return MetricsCli.Skipped(e);
            }
            catch (Exception e) when (e is InvalidDataException or ArgumentException or DirectoryNotFoundException)
            {
                // Bad inputs (statistics without feats, too few rows, mismatched dims) are one line, not a stack trace.
                AnsiConsole.MarkupLineInterpolated($"[red]kid: {e.Message}[/]");
                return 1;
            }
            finally
            {
                foreach (var f in feats) f?.Dispose();
                model?.Dispose();
            }
        });
        return cmd;
    }
}
