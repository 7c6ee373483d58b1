using System.Runtime.CompilerServices;
using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Kid;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Metrics;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>The kid50k_full record end to end: configured Inception weights, reference feature rows, generated images.</summary>
public sealed class KidMetricRecordTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "kid-record-" + Guid.NewGuid().ToString("N"));

    public KidMetricRecordTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static async IAsyncEnumerable<Tensor> Batches(Tensor images, int batch, [EnumeratorCancellation] CancellationToken ct = default)
    {
        for (long i = 0; i < images.shape[0]; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            await Task.Yield();
            yield return images[TensorIndex.Slice(i, Math.Min(i + batch, images.shape[0]))].clone();
        }
    }

    [Fact]
    public async Task Kid50kFullRecordsTheEstimateAgainstTheReferenceFeatureRows()
    {
        var ct = TestContext.Current.CancellationToken;
        manual_seed(6);
        // Initialised weights exercise the plumbing only (configured file, digest check off: not the official file).
        using var inception = new FidInceptionV3();
        var weights = Path.Combine(dir, "inception.safetensors");
        SafeTensors.Save(weights, inception.state_dict(), null);
        var store = new FeatureNetworkStore(new FeatureNetworkOptions
        {
            CacheDirectory = dir, Verify = false, Files = new Dictionary<string, string> { ["inception"] = weights },
        });
        var real = rand([5, 3, 32, 32]);
        var fake = rand([4, 3, 32, 32]);
        var extractor = new FidFeatureExtractor(inception, CPU);
        var (refStats, refFeats) = await extractor.StatsAndFeaturesAsync(Batches(real, 2), ct: ct);
        var refPath = Path.Combine(dir, "ref.npz");
        FidStatsFile.Save(refPath, refStats, features: refFeats);
        using var fakeFeats = await extractor.FeaturesAsync(Batches(fake, 3), ct: ct);
        double expected = KernelInceptionDistance.Compute(fakeFeats, refFeats, new KidOptions()).Value;

        var sink = new FileMetricSink(Path.Combine(dir, "out"));
        var rec = await MetricRegistry.CreateDefault().EvaluateAsync("kid50k_full", new MetricContext
        {
            Weights = store, ReferenceStats = refPath, GeneratedImages = (_, b) => Batches(fake, b), Batch = 3, ModelId = "m",
        }, sink, ct);
        Assert.True(rec.Status == "ok", rec.Reason);
        Assert.Equal(expected, rec.Value);
        Assert.Equal(4, rec.Images);
        Assert.Equal(await FeatureNetworks.Sha256OfFileAsync(weights, ct), rec.FeatureNetworkSha256);
        Assert.Equal(100, rec.Settings["num_subsets"]);
        Assert.Equal(1000, rec.Settings["max_subset_size"]);
        var written = Directory.GetFiles(Path.Combine(dir, "out", "kid50k_full"), "*.jsonl", SearchOption.AllDirectories);
        Assert.Equal(expected, MetricRecord.FromJsonLine(File.ReadAllLines(Assert.Single(written)).Single()).Value);

        // Statistics without feature rows cannot give KID: a failed record that says how to make them, no value.
        var noFeats = Path.Combine(dir, "mu-sigma-only.npz");
        FidStatsFile.Save(noFeats, refStats);
        var failed = await MetricRegistry.CreateDefault().EvaluateAsync("kid50k_full", new MetricContext
        {
            Weights = store, ReferenceStats = noFeats, GeneratedImages = (_, b) => Batches(fake, b),
        }, sink, ct);
        Assert.Equal("failed", failed.Status);
        Assert.Null(failed.Value);
        Assert.Contains("--features", failed.Reason, StringComparison.Ordinal);
        refFeats.Dispose();
    }
}
