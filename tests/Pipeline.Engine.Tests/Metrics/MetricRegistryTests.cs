using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Lpips;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Metrics;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

[Collection(Foundation.ProcessWideStateCollection.Name)] // PPL's test checks torch's global generator is left where it was
public sealed class MetricRegistryTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "metrics-registry-" + Guid.NewGuid().ToString("N"));

    public MetricRegistryTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private sealed class ListSink : IMetricSink
    {
        public List<MetricRecord> Records { get; } = [];
        public Task WriteAsync(MetricRecord record, CancellationToken ct) { Records.Add(record); return Task.CompletedTask; }
    }

    [Fact]
    public void DefaultRegistryHasTheStandardMetrics()
    {
        var names = MetricRegistry.CreateDefault().Names.ToArray();
        foreach (var n in new[] { "fid50k_full", "fid10k", "kid50k_full", "ppl_wend", "ppl_wfull", "ppl_zend", "ppl_zfull", "ppl2_wend", "lpips_projection" })
            Assert.Contains(n, names);
        Assert.Throws<ArgumentException>(() => MetricRegistry.CreateDefault().Get("nope"));
    }

    [Theory]
    [InlineData("fid10k")]
    [InlineData("kid50k_full")]
    public async Task MissingWeightsGiveASkippedRecordWithoutAValue(string metric)
    {
        var sink = new ListSink();
        var ctx = new MetricContext
        {
            Weights = new FeatureNetworkStore(new FeatureNetworkOptions { CacheDirectory = Path.Combine(dir, "empty") }),
            ReferenceStats = Path.Combine(dir, "ref.npz"),
            GeneratedImages = (_, _) => throw new InvalidOperationException("must not generate without weights"),
            ModelId = "ffhq-256",
        };
        var rec = await MetricRegistry.CreateDefault().EvaluateAsync(metric, ctx, sink, TestContext.Current.CancellationToken);
        Assert.Equal("skipped", rec.Status);
        Assert.Null(rec.Value);
        Assert.Contains("weights missing", rec.Reason, StringComparison.Ordinal);
        var written = Assert.Single(sink.Records);
        Assert.Equal(metric, written.Metric);
        var line = written.ToJsonLine();
        Assert.DoesNotContain('\n', line);
        var back = MetricRecord.FromJsonLine(line);
        Assert.Equal("ffhq-256", back.ModelId);
        Assert.Equal("skipped", back.Status);
        Assert.Contains("\"model_id\":\"ffhq-256\"", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LpipsProjectionRecordsTheMeanDistanceWithConfiguredWeights()
    {
        var ct = TestContext.Current.CancellationToken;
        manual_seed(4);
        // Weights of any value exercise the plumbing: configured files, digest check off (these are not the official files).
        using var reference = new LpipsVgg();
        var sd = reference.state_dict();
        var trunk = sd.Where(kv => kv.Key.StartsWith("net.", StringComparison.Ordinal))
            .Select(kv => new KeyValuePair<string, Tensor>("features." + kv.Key.Split('.')[2] + "." + kv.Key.Split('.')[3], kv.Value));
        var heads = sd.Where(kv => kv.Key.StartsWith("lin", StringComparison.Ordinal));
        SafeTensors.Save(Path.Combine(dir, "vgg.safetensors"), trunk.ToDictionary(), null);
        SafeTensors.Save(Path.Combine(dir, "lin.safetensors"), heads.ToDictionary(), null);
        var store = new FeatureNetworkStore(new FeatureNetworkOptions
        {
            CacheDirectory = dir, Verify = false,
            Files = new Dictionary<string, string> { ["vgg16"] = Path.Combine(dir, "vgg.safetensors"), ["lpips-vgg"] = Path.Combine(dir, "lin.safetensors") },
        });
        var a = rand([3, 3, 32, 32]) * 2 - 1;
        var b = rand([3, 3, 32, 32]) * 2 - 1;
        double expected;
        using (no_grad()) expected = reference.Distance(a, b).mean().item<float>();
        var sink = new FileMetricSink(Path.Combine(dir, "out"));
        var rec = await MetricRegistry.CreateDefault().EvaluateAsync("lpips_projection",
            new MetricContext { Weights = store, ProjectionPairs = () => Pairs(a, b) }, sink, ct);
        Assert.Equal("ok", rec.Status);
        Assert.Equal(3, rec.Images);
        Assert.Equal(expected, rec.Value!.Value, 1e-5);
        var written = Directory.GetFiles(Path.Combine(dir, "out", "lpips_projection"), "*.jsonl", SearchOption.AllDirectories);
        Assert.Equal(rec, MetricRecord.FromJsonLine(File.ReadAllLines(Assert.Single(written)).Single()) with { Settings = rec.Settings });
    }

    [Fact]
    public async Task PplDrawsFromTheContextsSeedNotFromTorchsGlobalGenerator()
    {
        var ct = TestContext.Current.CancellationToken;
        manual_seed(8);
        using var reference = new LpipsVgg();
        var sd = reference.state_dict();
        SafeTensors.Save(Path.Combine(dir, "vgg.safetensors"), sd.Where(kv => kv.Key.StartsWith("net.", StringComparison.Ordinal))
            .ToDictionary(kv => "features." + kv.Key.Split('.')[2] + "." + kv.Key.Split('.')[3], kv => kv.Value), null);
        SafeTensors.Save(Path.Combine(dir, "lin.safetensors"), sd.Where(kv => kv.Key.StartsWith("lin", StringComparison.Ordinal)).ToDictionary(), null);
        var store = new FeatureNetworkStore(new FeatureNetworkOptions
        {
            CacheDirectory = dir, Verify = false,
            Files = new Dictionary<string, string> { ["vgg16"] = Path.Combine(dir, "vgg.safetensors"), ["lpips-vgg"] = Path.Combine(dir, "lin.safetensors") },
        });
        using var g = new Pipeline.Engine.StyleGan2.Generator(new Pipeline.Engine.StyleGan2.GeneratorConfig(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 8 }));
        g.eval();
        var ppl = StandardMetrics.Ppl(new Pipeline.Engine.Metrics.Ppl.PplOptions { Samples = 50, Crop = false, LpipsSize = 16 }, "ppl_test");
        var registry = new MetricRegistry();
        registry.Register(ppl);
        async Task<double> Evaluate(long seed, long globalSeed)
        {
            manual_seed(globalSeed); // a job next door moving torch's global generator must not change the value
            // MaxSamples: 4 of the registered 50 pairs (the job's Samples), and the record says 4.
            var ctx = new MetricContext { Weights = store, Generator = Pipeline.Engine.StyleGan2.StyleGan2Metrics.ForPpl(g), Batch = 2, Seed = seed, MaxSamples = 4 };
            var rec = await registry.EvaluateAsync("ppl_test", ctx, new ListSink(), ct);
            Assert.Equal("ok", rec.Status);
            Assert.Equal(4, rec.Images);
            return rec.Value!.Value;
        }
        double first = await Evaluate(5, 1);
        Assert.Equal(first, await Evaluate(5, 99));
        Assert.NotEqual(first, await Evaluate(6, 1));
        // And the evaluation leaves the global generator where it was.
        manual_seed(123);
        var expected = randn(4);
        manual_seed(123);
        await Evaluate(5, 123);
        manual_seed(123);
        Assert.True(randn(4).allclose(expected, rtol: 0, atol: 0));
    }

    private static async IAsyncEnumerable<(Tensor, Tensor)> Pairs(Tensor a, Tensor b)
    {
        await Task.Yield();
        yield return (a[..2], b[..2]);
        yield return (a[2..], b[2..]);
    }
}
