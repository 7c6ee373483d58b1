using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Kid;
using Pipeline.Engine.Metrics.Records;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Metrics;

/// <summary>
/// FID and KID between two sides (<see cref="MetricSide"/>) as metric definitions, so `pipeline fid/kid` evaluate and
/// record through <see cref="MetricEvaluation"/> as metrics jobs do. The numbers are the engine's: the same feature
/// extractor, <see cref="FrechetDistance"/> and <see cref="KernelInceptionDistance"/> that fid50k_full and kid50k_full
/// call, with the same settings keys.
/// </summary>
public static class PairedMetrics
{
    public static MetricDefinition Fid(MetricSide a, MetricSide b, int dims = 2048, Action<string>? warn = null) => new(
        "fid", "FID between two image folders or statistics files",
        Settings(a, b, dims, ("implementation", "pytorch-fid 0.3.0 semantics")),
        async (ctx, ct) =>
        {
            using var features = new SideFeatures(ctx, dims);
            var stats = new GaussianStats[2];
            long images = 0;
            foreach (var (side, i) in new[] { (a, 0), (b, 1) })
            {
                if (side.StoredFile is { } file) { stats[i] = FidStatsFile.Load(file); continue; }
                var extractor = await features.ExtractorAsync(ct);
                stats[i] = await extractor.StatsAsync(side.Images!(ctx.Batch, ctx.Device), features.Progress("fid", side), ct);
                images += stats[i].Count;
            }
            features.CheckStored(a, b);
            return new MetricOutcome(FrechetDistance.Compute(stats[0], stats[1], warn: warn).Value, images, features.Sha256);
        }) { Networks = [FeatureNetworks.Inception] };

    /// <summary>KID with A as clean-fid's feats1; <paramref name="onResult"/> sees the estimate's subsets and row counts.</summary>
    public static MetricDefinition Kid(MetricSide a, MetricSide b, KidOptions o, Action<KidResult, long, long>? onResult = null) => new(
        "kid", "KID between two image folders or feature files",
        Settings(a, b, 2048, ("num_subsets", o.NumSubsets), ("max_subset_size", o.MaxSubsetSize), ("subset_seed", o.Seed),
            ("kernel", "(x.y / d + 1)^3"), ("implementation", "clean-fid kernel_distance (= stylegan2-ada KID), float64, reported as is (not x1000)")),
        async (ctx, ct) =>
        {
            using var features = new SideFeatures(ctx, 2048);
            var feats = new Tensor?[2];
            try
            {
                long images = 0;
                foreach (var (side, i) in new[] { (a, 0), (b, 1) })
                {
                    if (side.StoredFile is { } file) { feats[i] = FidStatsFile.LoadFeatures(file); continue; }
                    var extractor = await features.ExtractorAsync(ct);
                    feats[i] = await extractor.FeaturesAsync(side.Images!(ctx.Batch, ctx.Device), features.Progress("kid", side), ct);
                    images += feats[i]!.shape[0];
                }
                features.CheckStored(a, b);
                var r = KernelInceptionDistance.Compute(feats[0]!, feats[1]!, o);
                onResult?.Invoke(r, feats[0]!.shape[0], feats[1]!.shape[0]);
                return new MetricOutcome(r.Value, images, features.Sha256);
            }
            finally
            {
                foreach (var f in feats) f?.Dispose();
            }
        }) { Networks = [FeatureNetworks.Inception] };

    private static Dictionary<string, object?> Settings(MetricSide a, MetricSide b, int dims, params (string Key, object? Value)[] more)
    {
        var s = new Dictionary<string, object?>
        {
            ["a"] = a.Source, ["b"] = b.Source, ["dims"] = dims, ["preprocessing"] = FidFeatureExtractor.PreprocessingDescription,
        };
        foreach (var (k, v) in more) s[k] = v;
        return s;
    }

    /// <summary>The Inception network, loaded once and only when a side has images (two stored sides need no weights).</summary>
    private sealed class SideFeatures(MetricContext ctx, int dims) : IDisposable
    {
        private FidInceptionV3? model;
        private FidFeatureExtractor? extractor;
        public string? Sha256 { get; private set; }

        public async Task<FidFeatureExtractor> ExtractorAsync(CancellationToken ct)
        {
            if (extractor is not null) return extractor;
            (model, Sha256) = await ctx.Weights.LoadInceptionAsync(ct);
            return extractor = new FidFeatureExtractor(model, ctx.Device, dims);
        }

        public IProgress<long> Progress(string metric, MetricSide side)
        {
            long total = side.Count?.Invoke() ?? 0;
            // Reported on the evaluating thread (not Progress<T>'s thread-pool posts), so no report outlives the evaluation.
            return new InlineProgress(n => ctx.Progress?.Report(($"{metric}: {side.Source}", n, total)));
        }

        /// <summary>A stored side made with another feature network cannot be compared with images seen by this one.</summary>
        public void CheckStored(MetricSide a, MetricSide b)
        {
            if (Sha256 is null) return;
            foreach (var file in new[] { a.StoredFile, b.StoredFile })
                if (file is not null && FidStatsFile.LoadInfo(file)?.FeatureNetworkSha256 is { } refSha && refSha != Sha256)
                    throw new InvalidOperationException($"{file} was computed with feature network {refSha}, not {Sha256}; recompute it");
        }

        public void Dispose() => model?.Dispose();
    }

    private sealed class InlineProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
