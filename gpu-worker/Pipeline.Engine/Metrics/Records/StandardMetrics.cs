using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Kid;
using Pipeline.Engine.Metrics.Ppl;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics.Records;

/// <summary>Definitions of the standard metrics (settings follow the official StyleGAN2 metric definitions).</summary>
public static class StandardMetrics
{
    public static MetricDefinition Fid(string name, long images, string description) => new(
        name, description,
        new Dictionary<string, object?>
        {
            ["images"] = images, ["dims"] = 2048, ["preprocessing"] = FidFeatureExtractor.PreprocessingDescription,
            ["implementation"] = "pytorch-fid 0.3.0 semantics",
        },
        async (ctx, ct) =>
        {
            var refPath = ctx.ReferenceStats ?? throw new InvalidOperationException($"{name} needs reference statistics (.npz); compute them with `pipeline stats <folder> -o ref.npz`");
            var source = ctx.GeneratedImages ?? throw new InvalidOperationException($"{name} needs a source of generated images");
            var (model, sha) = await ctx.Weights.LoadInceptionAsync(ct);
            using var _ = model;
            var info = FidStatsFile.LoadInfo(refPath);
            if (info?.FeatureNetworkSha256 is { } refSha && refSha != sha)
                throw new InvalidOperationException($"reference statistics {refPath} were computed with feature network {refSha}, not {sha}; recompute them");
            var reference = FidStatsFile.Load(refPath);
            var extractor = new FidFeatureExtractor(model, ctx.Device);
            long count = ctx.SamplesFor(images);
            var progress = new Progress<long>(n => ctx.Progress?.Report((name, n, count)));
            var stats = await extractor.StatsAsync(source(count, ctx.Batch), progress, ct);
            return new MetricOutcome(FrechetDistance.Compute(stats, reference).Value, stats.Count, sha);
        }) { Networks = [FeatureNetworks.Inception] };

    /// <summary>
    /// KID (clean-fid / stylegan2-ada estimator) of generated images against the reference's feature rows: the same
    /// Inception pool features as FID, so the same weights rule applies (missing weights: a skipped record, no value).
    /// </summary>
    public static MetricDefinition Kid(string name, long images, string description, KidOptions? options = null)
    {
        var o = options ?? new KidOptions();
        return new(
            name, description,
            new Dictionary<string, object?>
            {
                ["images"] = images, ["dims"] = 2048, ["preprocessing"] = FidFeatureExtractor.PreprocessingDescription,
                ["num_subsets"] = o.NumSubsets, ["max_subset_size"] = o.MaxSubsetSize, ["subset_seed"] = o.Seed,
                ["kernel"] = "(x.y / d + 1)^3", ["implementation"] = "clean-fid kernel_distance (= stylegan2-ada KID), float64, reported as is (not x1000)",
            },
            async (ctx, ct) =>
            {
                var refPath = ctx.ReferenceStats ?? throw new InvalidOperationException($"{name} needs reference features (an .npz with feats); compute them with `pipeline stats <folder> -o ref.npz --features`");
                var source = ctx.GeneratedImages ?? throw new InvalidOperationException($"{name} needs a source of generated images");
                var (model, sha) = await ctx.Weights.LoadInceptionAsync(ct);
                using var _ = model;
                var info = FidStatsFile.LoadInfo(refPath);
                if (info?.FeatureNetworkSha256 is { } refSha && refSha != sha)
                    throw new InvalidOperationException($"reference features {refPath} were computed with feature network {refSha}, not {sha}; recompute them");
                using var reference = FidStatsFile.LoadFeatures(refPath);
                var extractor = new FidFeatureExtractor(model, ctx.Device);
                long count = ctx.SamplesFor(images);
                var progress = new Progress<long>(n => ctx.Progress?.Report((name, n, count)));
                using var generated = await extractor.FeaturesAsync(source(count, ctx.Batch), progress, ct);
                // feats1 = generated, feats2 = reference: clean-fid's argument order for a dataset reference.
                var r = KernelInceptionDistance.Compute(generated, reference, o);
                return new MetricOutcome(r.Value, generated.shape[0], sha);
            }) { Networks = [FeatureNetworks.Inception] };
    }

    public static MetricDefinition Ppl(PplOptions o, string? nameOverride) => new(
        nameOverride ?? o.Name,
        $"Perceptual path length in {o.Space} ({o.Sampling}, {(o.Crop ? "face crop" : "full image")}), LPIPS-VGG v0.1, eps {o.Epsilon}",
        new Dictionary<string, object?>
        {
            ["space"] = o.Space.ToString().ToLowerInvariant(), ["sampling"] = o.Sampling.ToString().ToLowerInvariant(),
            ["samples"] = o.Samples, ["epsilon"] = o.Epsilon, ["crop"] = o.Crop, ["lpips_size"] = o.LpipsSize,
            ["filter"] = "percentile 1 lower / 99 higher, inclusive",
            ["z_space_note"] = o.Space == PplSpace.Z ? "slerp in Z then mapping (StyleGAN definition; rosinality ppl.py has no Z branch)" : null,
        },
        async (ctx, ct) =>
        {
            var g = ctx.Generator ?? throw new InvalidOperationException("PPL needs a generator");
            var (lpips, sha) = await ctx.Weights.LoadLpipsVggAsync(ct);
            using var _ = lpips;
            lpips.to(ctx.Device);
            var run = o with { Batch = ctx.Batch, Samples = (int)ctx.SamplesFor(o.Samples) };
            var progress = new Progress<int>(n => ctx.Progress?.Report((nameOverride ?? o.Name, n, run.Samples)));
            using var rng = ctx.Seed is { } seed ? new TorchSharp.torch.Generator(unchecked((ulong)seed), ctx.Device) : null;
            var r = PerceptualPathLength.Run(g, lpips, run, ctx.Device, rng: rng, progress: progress, ct: ct);
            return new MetricOutcome(r.Value, r.Distances.Length, sha);
        }) { Networks = [FeatureNetworks.Vgg16, FeatureNetworks.LpipsVggHeads] };

    public static MetricDefinition LpipsProjection() => new(
        "lpips_projection", "Mean LPIPS-VGG v0.1 between projected images and their targets",
        new Dictionary<string, object?> { ["network"] = "vgg16 v0.1", ["range"] = "[-1, 1]" },
        async (ctx, ct) =>
        {
            var pairs = ctx.ProjectionPairs ?? throw new InvalidOperationException("lpips_projection needs (projected, target) pairs");
            var (lpips, sha) = await ctx.Weights.LoadLpipsVggAsync(ct);
            using var _ = lpips;
            lpips.to(ctx.Device);
            double sum = 0;
            long n = 0;
            await foreach (var (p, t) in pairs().WithCancellation(ct))
            {
                using var scope = NewDisposeScope();
                using var g = no_grad();
                var d = lpips.Distance(p.to(ctx.Device), t.to(ctx.Device));
                sum += d.sum().item<float>();
                n += d.shape[0];
            }
            if (n == 0) throw new InvalidOperationException("lpips_projection got no pairs");
            return new MetricOutcome(sum / n, n, sha);
        }) { Networks = [FeatureNetworks.Vgg16, FeatureNetworks.LpipsVggHeads] };
}
