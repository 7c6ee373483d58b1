using System.Diagnostics;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.Training;
using Pipeline.Engine.Training.StyleGan2;
using Pipeline.Worker.Cli.Metrics;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Training;

/// <summary>
/// Metric records while StyleGAN2 trains: the two proxy Frechet distances of <see cref="ProxyFrechet"/> (never called
/// FID) between g_ema samples and reference images, and real FID when reference statistics are given (a "skipped"
/// record saying why when the Inception weights are missing). The reference features are computed once; the samples
/// use fixed z, so the curve over iterations compares like with like.
/// </summary>
internal sealed class StyleGan2TrainingMetrics : IDisposable
{
    private const int Chunk = 50;
    private readonly ProxyFrechet _fd;
    private readonly GaussianStats _reference;
    private readonly GaussianStats _referencePixels;
    private readonly int _samples;
    private readonly string _dataset;
    private readonly string _runId;
    private readonly string? _fidReference;
    private readonly MetricRegistry _fid = new();
    private readonly string _fidName;

    /// <param name="reference">[N, 3, S, S] in [-1, 1] on the CPU: held-out images, or the training images for a folder.</param>
    public StyleGan2TrainingMetrics(Tensor reference, string dataset, int samples, string runId, string? fidReference, Device device)
    {
        _fd = new ProxyFrechet(device);
        _reference = _fd.Stats(ProxyFdCommand.Chunks(reference));
        _referencePixels = ProxyFrechet.PixelStats(ProxyFdCommand.Chunks(reference));
        (_samples, _dataset, _runId, _fidReference) = (samples, dataset, runId, fidReference);
        _fidName = $"fid{samples}";
        _fid.Register(StandardMetrics.Fid(_fidName, samples, $"FID of {samples} g_ema samples during training against {fidReference}"));
    }

    /// <summary>
    /// Reference images: for built-in data, held-out images (seeds 5,000,000 on, never trained on, as `train proxy-fd`);
    /// for a folder, the first training images (FID during training is usually measured against the training set).
    /// </summary>
    public static StyleGan2TrainingMetrics For(string? synthetic, ImageTensorDataset data, int samples, string outDir, string? fidReference, Device device)
    {
        if (samples < 2) throw new ArgumentException("--metrics-samples must be at least 2 (a covariance needs two images)");
        Tensor reference;
        string dataset;
        if (synthetic is not null)
        {
            var kind = TrainingData.ParseKind(synthetic);
            reference = ProxyFdCommand.Real(kind, ProxyFdCommand.HeldOut1, samples, data.Size);
            dataset = $"{TrainingData.Name(kind)} held-out seeds {ProxyFdCommand.HeldOut1}..{ProxyFdCommand.HeldOut1 + samples - 1}";
        }
        else
        {
            int n = (int)Math.Min(samples, data.Count);
            reference = data.Batch([.. Enumerable.Range(0, n).Select(i => (long)i)], new Random(0), hflip: false);
            dataset = $"first {n} training images";
        }
        using (reference)
            return new StyleGan2TrainingMetrics(reference, dataset, samples, "train-" + Path.GetFileName(Path.GetFullPath(outDir)), fidReference, device);
    }

    /// <summary>The records of one evaluation of <paramref name="trainer"/>'s g_ema.</summary>
    public IReadOnlyList<Pipeline.Metrics.MetricRecord> Evaluate(StyleGan2Trainer trainer)
    {
        var sw = Stopwatch.StartNew();
        var started = DateTimeOffset.UtcNow;
        var g = trainer.GEma;
        GaussianStats features, pixels;
        using (var scope = NewDisposeScope())
        {
            var images = Samples(g, _samples).cpu();
            features = _fd.Stats(ProxyFdCommand.Chunks(images));
            pixels = ProxyFrechet.PixelStats(ProxyFdCommand.Chunks(images));
        }
        var settings = new Dictionary<string, object?> { ["iteration"] = trainer.Iteration, ["samples"] = _samples, ["z_seed"] = 123, ["noise"] = "stored buffers", ["truncation"] = 1.0 };
        Pipeline.Metrics.MetricRecord Proxy(string metric, string description, double value) => new()
        {
            Metric = metric, Value = value, Status = "ok", ModelId = $"{_runId}@{trainer.Iteration}", Dataset = _dataset, Images = _samples,
            Settings = new Dictionary<string, object?>(settings) { ["description"] = description }, Device = MetricRegistry.DeviceName(g.Device),
            DurationSeconds = sw.Elapsed.TotalSeconds, Timestamp = started,
        };
        var records = new List<Pipeline.Metrics.MetricRecord>
        {
            Proxy(ProxyFrechet.Name, ProxyFrechet.Description, ProxyFrechet.Distance(features, _reference)),
            Proxy(ProxyFrechet.PixelName, "Frechet distance of images area-averaged to 8x8 (192-d RGB); NOT FID", ProxyFrechet.Distance(pixels, _referencePixels)),
        };
        if (_fidReference is not null)
        {
            var ctx = new MetricContext
            {
                ModelId = $"{_runId}@{trainer.Iteration}", Dataset = _dataset, Device = g.Device, Weights = MetricsCli.Store(null),
                ReferenceStats = _fidReference, GeneratedImages = (n, batch) => Operations.Metrics.GeneratedImages.Stream(g, 123, truncation: 1, randomizeNoise: false, n, batch, g.Device, default),
            };
            // The loop is synchronous; the registry's sink is a no-op because the loop writes metric-<name>.jsonl itself.
            records.Add(_fid.EvaluateAsync(_fidName, ctx, new DelegateMetricSink((_, _) => Task.CompletedTask)).GetAwaiter().GetResult());
        }
        return records;
    }

    private static Tensor Samples(Engine.StyleGan2.Generator g, int n)
    {
        using var _ = no_grad();
        using var gen = new TorchSharp.torch.Generator(123);
        var outs = new List<Tensor>();
        for (int i = 0; i < n; i += Chunk)
        {
            var z = randn([Math.Min(Chunk, n - i), g.Config.StyleDim], generator: gen).to(g.Device);
            outs.Add(g.Forward([z], new GenerateOptions { RandomizeNoise = false }).Image.clamp(-1, 1));
        }
        return cat(outs, 0);
    }

    public void Dispose() => _fd.Dispose();
}
