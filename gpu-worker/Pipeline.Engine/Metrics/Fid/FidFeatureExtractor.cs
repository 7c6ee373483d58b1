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
        Model.to(Device).eval();
        using var acc = new GaussianStatsAccumulator(Dims);
        await foreach (var batch in batches.WithCancellation(ct))
        {
            using var scope = NewDisposeScope();
            acc.Add(Features(batch));
            batch.Dispose();
            progress?.Report(acc.Count);
        }
        return acc.ToStats();
    }
}
