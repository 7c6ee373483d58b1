using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Ppl;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Engine.StyleGan2;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>`pipeline ppl --model ckpt`: perceptual path length of a StyleGAN2 checkpoint (rosinality ppl.py semantics).</summary>
public sealed class PplCommand : ICliCommand
{
    private readonly FeatureNetworkStore? weights;

    public PplCommand() { }

    /// <summary>Tests pass a store with stand-in weights; the command otherwise finds them from --models-dir.</summary>
    internal PplCommand(FeatureNetworkStore weights) => this.weights = weights;

    public Command Build()
    {
        var model = new Option<string>("--model") { Description = "StyleGAN2 checkpoint (rosinality train.py / convert_weight.py file).", Required = true };
        var space = new Option<string>("--space") { Description = "w (lerp) or z (slerp, StyleGAN definition).", DefaultValueFactory = _ => "w" };
        var sampling = new Option<string>("--sampling") { Description = "end (t = 0) or full (t ~ U(0, 1)).", DefaultValueFactory = _ => "end" };
        var samples = new Option<int>("--n-sample") { Description = "Number of pairs (official metrics: 50000).", DefaultValueFactory = _ => 5000 };
        var eps = new Option<double>("--eps") { Description = "Step in latent space.", DefaultValueFactory = _ => 1e-4 };
        var crop = new Option<bool>("--crop") { Description = "FFHQ face crop before LPIPS." };
        var seed = new Option<long>("--seed") { Description = "Random seed of the draws.", DefaultValueFactory = _ => 0 };
        var batch = MetricsCli.BatchOption(64);
        var device = CliDevice.Option();
        var models = MetricsCli.ModelsDirOption();
        var record = MetricsCli.RecordOption();
        var cmd = new Command("ppl", "Perceptual path length (LPIPS-VGG v0.1, 1%/99% percentile filter) of a StyleGAN2 generator.")
        {
            model, space, sampling, samples, eps, crop, seed, batch, device, models, record,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var o = new PplOptions
            {
                Space = parse.GetValue(space) switch { "w" => PplSpace.W, "z" => PplSpace.Z, var s => throw new ArgumentException($"--space {s}: use w or z") },
                Sampling = parse.GetValue(sampling) switch { "end" => PplSamplingMode.End, "full" => PplSamplingMode.Full, var s => throw new ArgumentException($"--sampling {s}: use end or full") },
                Samples = parse.GetValue(samples), Epsilon = parse.GetValue(eps), Crop = parse.GetValue(crop), Batch = parse.GetValue(batch),
            };
            var ckpt = StyleGan2Checkpoint.Load(parse.GetValue(model)!);
            var context = MetricsCli.Context(weights, parse, device, models, batch);
            var g = ckpt.Generator;
            g.to(context.Device).eval();
            // The definition metrics jobs evaluate for ppl_* (here with the arguments' settings), drawing from a generator
            // seeded with --seed as a job's draws are seeded with its Seed.
            var definition = StandardMetrics.Ppl(o, "ppl");
            var r = await MetricsCli.EvaluateAsync(definition, context with { Generator = StyleGan2Metrics.ForPpl(g), ModelId = parse.GetValue(model), Seed = parse.GetValue(seed) },
                parse.GetValue(record), ct);
            if (MetricsCli.NotOk(r) is { } code) return code;
            MetricsCli.Output(parse).WriteLine($"ppl: {r.Value!.Value:R} ({r.Images} pairs)");
            return 0;
        });
        return cmd;
    }
}
