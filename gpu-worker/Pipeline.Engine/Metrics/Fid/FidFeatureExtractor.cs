using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics.Fid;

/// <summary>
/// Batched FID features on CPU or CUDA, accumulated straight into float64 statistics (no N x 2048 buffer).
/// Batches are uint8 NHWC (decoded images) or float NCHW in [0, 1].
/// </summary>
public sealed class FidFeatureExtractor(FidInceptionV3 model, Device device, int dims = 2048)
{
    public const string PreprocessingDescription = "pytorch-fid: uint8/255, bilinear resize to 299 (align_corners=False, no antialias), 2x-1";

    public FidInceptionV3 Model { get; } = model;
    public Device Device { get; } = device;
    public int Dims { get; } = dims;

    /// <summary>Features [B, Dims] (float32) of one batch.</summary>
    public Tensor Features(Tensor batch)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = batch.dtype == ScalarType.Byte ? FidPreprocess.ToTensor(batch.to(Device)) : batch.to(Device).to(ScalarType.Float32);
        return Model.Features(x, Dims).MoveToOuterDisposeScope();
    }

    /// <summary>Streams batches into statistics; reports the number of images done.</summary>
    public async Task<GaussianStats> StatsAsync(IAsyncEnumerable<Tensor> batches, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        using var acc = new GaussianStatsAccumulator(Dims);
        await RunAsync(batches, acc, null, progress, ct);
        return acc.ToStats();
    }

    /// <summary>
    /// All feature rows [N, Dims] on the CPU, as the network gives them (float32; KID upcasts exactly to float64).
    /// KID draws subsets from the whole set, so unlike FID it needs the rows, not only their moments.
    /// </summary>
    public async Task<Tensor> FeaturesAsync(IAsyncEnumerable<Tensor> batches, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        var rows = new List<Tensor>();
        try
        {
            await RunAsync(batches, null, rows, progress, ct);
            if (rows.Count == 0) throw new InvalidOperationException("no images to extract features from");
            return cat(rows, 0);
        }
        finally
        {
            foreach (var r in rows) r.Dispose();
        }
    }

    /// <summary>Statistics and the feature rows of one pass (FID and KID of the same images without a second pass).</summary>
    public async Task<(GaussianStats Stats, Tensor Features)> StatsAndFeaturesAsync(IAsyncEnumerable<Tensor> batches, IProgress<long>? progress = null, CancellationToken ct = default)
    {
        using var acc = new GaussianStatsAccumulator(Dims);
        var rows = new List<Tensor>();
        try
        {
            await RunAsync(batches, acc, rows, progress, ct);
            var stats = acc.ToStats();
            return (stats, cat(rows, 0));
        }
        finally
        {
            foreach (var r in rows) r.Dispose();
        }
    }

    private async Task RunAsync(IAsyncEnumerable<Tensor> batches, GaussianStatsAccumulator? acc, List<Tensor>? rows, IProgress<long>? progress, CancellationToken ct)
    {
        Model.to(Device).eval();
        long done = 0;
        await foreach (var batch in batches.WithCancellation(ct))
        {
            using var scope = NewDisposeScope();
            var f = Features(batch);
            batch.Dispose();
            acc?.Add(f);
            rows?.Add(f.cpu().DetachFromDisposeScope()); // owned (and freed) by the caller's list, whatever scope is current
            done += f.shape[0];
            progress?.Report(done);
        }
    }
}
