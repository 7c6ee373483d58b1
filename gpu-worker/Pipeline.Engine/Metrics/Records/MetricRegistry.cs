using System.Diagnostics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Ppl;
using static TorchSharp.torch;
using Pipeline.Metrics;

namespace Pipeline.Engine.Metrics.Records;

/// <summary>What an evaluation may draw on; each metric uses the parts it needs and says which one is missing.</summary>
public sealed record MetricContext
{
    public string? ModelId { get; init; }
    public string? ModelSha256 { get; init; }
    public string? Dataset { get; init; }
    public Device Device { get; init; } = CPU;
    public required FeatureNetworkStore Weights { get; init; }
    /// <summary>(count, batch) -> generated images: uint8 NHWC (quantised, as FID expects) or float NCHW in [0, 1].</summary>
    public Func<long, int, IAsyncEnumerable<Tensor>>? GeneratedImages { get; init; }
    /// <summary>Reference statistics (.npz mu/sigma) of the real dataset.</summary>
    public string? ReferenceStats { get; init; }
    public IPplGenerator? Generator { get; init; }
    /// <summary>
    /// Seed of a metric's own random draws (PPL's latents, t and noise), from a generator of its own on
    /// <see cref="Device"/>: a job and `pipeline ppl` with the same seed and batch draw the same pairs, and concurrent
    /// jobs do not share torch's global generator. Null draws from the global generator.
    /// </summary>
    public long? Seed { get; init; }
    /// <summary>
    /// At most this many images (FID, KID) or pairs (PPL): a smaller run of a registered metric, e.g. the demo's or a
    /// smoke test's. The record's image count says how many were used; null = the registered count.
    /// </summary>
    public long? MaxSamples { get; init; }

    /// <summary>How many of a metric's <paramref name="registered"/> images or pairs this evaluation uses.</summary>
    public long SamplesFor(long registered) => Math.Min(registered, MaxSamples ?? registered);
    /// <summary>Pairs (projected image, target) in [-1, 1] for lpips_projection.</summary>
    public Func<IAsyncEnumerable<(Tensor Projected, Tensor Target)>>? ProjectionPairs { get; init; }
    public IProgress<(string Metric, long Done, long Total)>? Progress { get; init; }
    public int Batch { get; init; } = 64;
}

/// <summary>Value, image count and feature network of a successful evaluation.</summary>
public sealed record MetricOutcome(double Value, long Images, string? FeatureNetworkSha256);

/// <summary>A named metric: its fixed settings and how to evaluate it.</summary>
public sealed record MetricDefinition(
    string Name, string Description, IReadOnlyDictionary<string, object?> Settings,
    Func<MetricContext, CancellationToken, Task<MetricOutcome>> Evaluate)
{
    /// <summary>The feature-network files the metric loads, so a caller can say which absent one made it "skipped".</summary>
    public IReadOnlyList<FeatureNetworkFile> Networks { get; init; } = [];
}

/// <summary>Metrics registered by name (as NVlabs' metric_main), evaluated into JSON-line records.</summary>
public sealed class MetricRegistry
{
    private readonly Dictionary<string, MetricDefinition> metrics = new(StringComparer.Ordinal);

    /// <summary>KID of a translation job's outputs against the target domain (recorded by Council translation jobs).</summary>
    public const string KidTranslation = "kid_translation";

    public IEnumerable<string> Names => metrics.Keys.Order(StringComparer.Ordinal);

    public void Register(MetricDefinition m) => metrics[m.Name] = m;

    public MetricDefinition Get(string name) => metrics.TryGetValue(name, out var m) ? m
        : throw new ArgumentException($"unknown metric '{name}'; known: {string.Join(", ", Names)}", nameof(name));

    /// <summary>fid50k_full, fid10k, kid50k_full, ppl_{w,z}{end,full} (face crop), ppl2_wend (no crop), lpips_projection.</summary>
    public static MetricRegistry CreateDefault()
    {
        var r = new MetricRegistry();
        r.Register(StandardMetrics.Fid("fid50k_full", 50_000, "FID of 50k generated images against the full dataset's statistics"));
        r.Register(StandardMetrics.Fid("fid10k", 10_000, "FID of 10k generated images against the dataset's statistics (quick)"));
        r.Register(StandardMetrics.Kid("kid50k_full", 50_000, "KID of 50k generated images against the full dataset's Inception features"));
        // A translation job's outputs (at most 64) against the target domain: KID's unbiased estimate works on so few
        // images where FID's covariance cannot, which is why the Council GAN paper reports it.
        r.Register(StandardMetrics.Kid(KidTranslation, 64, "KID of a translation job's outputs against the target domain's Inception features"));
        foreach (var (space, sampling) in new[] { (PplSpace.W, PplSamplingMode.End), (PplSpace.W, PplSamplingMode.Full), (PplSpace.Z, PplSamplingMode.End), (PplSpace.Z, PplSamplingMode.Full) })
            r.Register(StandardMetrics.Ppl(new PplOptions { Space = space, Sampling = sampling, Samples = 50_000, Crop = true }, null));
        r.Register(StandardMetrics.Ppl(new PplOptions { Space = PplSpace.W, Sampling = PplSamplingMode.End, Samples = 50_000, Crop = false }, "ppl2_wend"));
        r.Register(StandardMetrics.LpipsProjection());
        return r;
    }

    /// <summary>
    /// Evaluates <paramref name="name"/> and writes its record through <paramref name="sink"/>. Missing weights give a
    /// "skipped" record, other errors a "failed" record (both with the reason); cancellation propagates.
    /// </summary>
    public async Task<MetricRecord> EvaluateAsync(string name, MetricContext ctx, IMetricSink sink, CancellationToken ct = default)
    {
        var m = Get(name);
        var started = DateTimeOffset.UtcNow;
        var sw = Stopwatch.StartNew();
        MetricRecord Record(string status, double? value, long images, string? featSha, string? reason) => new()
        {
            Metric = m.Name, Value = value, Status = status, Reason = reason, ModelId = ctx.ModelId, ModelSha256 = ctx.ModelSha256,
            Dataset = ctx.Dataset, Images = images, Settings = m.Settings, FeatureNetworkSha256 = featSha,
            DurationSeconds = sw.Elapsed.TotalSeconds, Device = DeviceName(ctx.Device), Timestamp = started,
        };
        MetricRecord record;
        try
        {
            var o = await m.Evaluate(ctx, ct);
            record = Record("ok", o.Value, o.Images, o.FeatureNetworkSha256, null);
        }
        catch (WeightsMissingException e)
        {
            record = Record("skipped", null, 0, null, e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            record = Record("failed", null, 0, null, $"{e.GetType().Name}: {e.Message}");
        }
        await sink.WriteAsync(record, ct);
        return record;
    }

    public static string DeviceName(Device d) => d.ToString();
}
