using Pipeline.Engine;
using System.Runtime.CompilerServices;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Ppl;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs.Shared;
using Pipeline.Worker.Metrics;
using Pipeline.Worker.Operations.Metrics;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.Metrics;

/// <summary>
/// FID, KID and PPL evaluations of a StyleGAN2 model (or FID/KID of a dataset batch), appended as one JSON-lines record per
/// evaluation under metrics/&lt;metric&gt;/. Without the feature-network weights the record says "skipped" and why,
/// and the job still succeeds: the absence is a fact to show on the dashboard, not a failure to retry.
/// </summary>
public sealed class MetricsJobHandler(EngineDevice device, FeatureNetworkStore features, MetricRegistry registry) : IJobHandler
{

    public bool CanHandle(JobSpec job) => job is MetricsJob;

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (MetricsJob)context.Job;
        MetricDefinition definition;
        try { definition = registry.Get(job.Metric); }
        catch (ArgumentException e) { throw new PermanentJobException(e.Message, e); }
        var dev = torch.device(device.Name);
        var file = await context.Models.GetFileAsync(job.Model, cancellationToken);
        using var model = await context.Models.GetAsync(job.Model, f => StyleGan2Checkpoint.Load(f.LocalPath), cancellationToken);
        var g = model.Model.Generator;
        using var reference = job.ReferenceStats is { } refBlob ? await context.ReadInputToFileAsync(refBlob, "reference.npz", cancellationToken) : null;
        var mctx = new MetricContext
        {
            ModelId = job.Model.Path,
            ModelSha256 = file.Sha256,
            Dataset = job.DatasetBatchId ?? job.ReferenceStats?.Path,
            Device = dev,
            Weights = features,
            ReferenceStats = reference?.Path,
            GeneratedImages = job.DatasetBatchId is { } batch
                ? (n, b) => DatasetImages(context.Store, batch, n, b, dev, cancellationToken)
                : (n, b) => GeneratedImages.Stream(g, job.Seed, job.Truncation, randomizeNoise: true, n, b, dev, cancellationToken),
            // Every use of the generator takes its lock, as in the other handlers: modules are not re-entrant and
            // a concurrent job of the same model may be running it.
            Generator = StyleGan2Metrics.ForPpl(g, gate: g),
            Seed = job.Seed,
            MaxSamples = job.Samples,
            Batch = context.MaxBatch,
            Progress = new Progress<(string Metric, long Done, long Total)>(p => context.ReportProgress((double)p.Done / Math.Max(1, p.Total))),
        };
        lock (g) g.to(dev);
        var record = await MetricEvaluation.RunAsync(registry, definition.Name, mctx, new BlobMetricSink(context.Store), cancellationToken);
        if (record.Status == "failed") throw new PermanentJobException($"{definition.Name} failed: {record.Reason}");
        if (record.Status == "skipped") context.Note = MetricEvaluation.Explain(definition, record, mctx.Weights);
        var result = new Dictionary<string, double> { ["images"] = record.Images, ["skipped"] = record.Status == "skipped" ? 1 : 0 };
        if (record.Value is { } v) result[definition.Name] = v;
        return result;
    }

    /// <summary>
    /// A dataset batch's items (at most <paramref name="max"/>), read as `pipeline fid/kid` read an image folder
    /// (<see cref="MetricImages"/>), so the same images give the CLI's value.
    /// </summary>
    private static async IAsyncEnumerable<Tensor> DatasetImages(IBlobStore store, string batchId, long max, int batch, Device dev, [EnumeratorCancellation] CancellationToken ct)
    {
        var manifest = await store.GetJsonAsync<DatasetManifest>(BlobLayout.DatasetManifest(batchId), ct)
                       ?? throw new PermanentJobException($"dataset batch '{batchId}' has no manifest");
        var items = manifest.Items.Take((int)Math.Min(max, int.MaxValue)).ToList();
        async Task<(byte[], string)> Read(int i, CancellationToken c) =>
            ((await store.GetBytesAsync(items[i].Path, c))?.Bytes.ToArray() ?? throw new PermanentJobException($"dataset item {items[i].Path} is missing"), items[i].Path);
        await foreach (var t in MetricImages.Batches(items.Count, Read, batch, dev, ct)) yield return t;
    }
}
