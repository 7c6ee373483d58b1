using Pipeline.Engine.Metrics.Fid;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Training;

/// <summary>
/// A cheap, clearly non-FID Fréchet distance for small models where the real Inception weights are absent:
/// the pytorch-fid InceptionV3 architecture up to block 1 (Conv2d_1a … Conv2d_4a with both max-pools, 192 channels,
/// averaged over space), weights = TorchSharp's default initialisation right after <c>torch.manual_seed(0)</c>,
/// images bilinearly resized to 64×64 (align_corners=False) in [-1, 1]. Random-network features still separate
/// colour, edge and layout statistics, so the distance falls as a generator approaches the data; its values are not
/// comparable with FID or across feature networks.
/// </summary>
public sealed class ProxyFrechet : IDisposable
{
    public const string Name = "random-inception192-fd";
    public const string Description = "Frechet distance on 192-d features of the pytorch-fid InceptionV3 blocks 0-1 with random weights (torch.manual_seed(0), default init), inputs resized to 64x64; NOT FID";

    private readonly FidInceptionV3 _net;

    public ProxyFrechet(Device? device = null)
    {
        manual_seed(0);
        _net = new FidInceptionV3();
        if (device is not null) _net.to(device);
        _net.eval();
    }

    /// <summary>[N, 192] features of images in [-1, 1].</summary>
    public Tensor Features(Tensor imagesSigned)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = nn.functional.interpolate(imagesSigned.to(float32), [64, 64], mode: InterpolationMode.Bilinear, align_corners: false);
        var y = _net.ForwardBlocks(x, [1], resizeInput: false, normalizeInput: false)[0];
        return scope.MoveToOuter(y.mean([2, 3]).to(float64));
    }

    /// <summary>Mean and covariance of the features of all batches.</summary>
    public GaussianStats Stats(IEnumerable<Tensor> batches)
    {
        using var acc = new GaussianStatsAccumulator(192);
        foreach (var b in batches)
            using (var f = Features(b))
                acc.Add(f);
        return acc.ToStats();
    }

    public static double Distance(GaussianStats a, GaussianStats b) => FrechetDistance.Compute(a, b).Value;

    /// <summary>Name of <see cref="PixelFeatures"/>'s distance.</summary>
    public const string PixelName = "pixel8-fd";

    /// <summary>
    /// The crudest layout-and-colour proxy: images in [-1, 1] area-averaged to 8×8 and flattened (192-d). Its Fréchet
    /// distance needs no network at all, which makes it a useful cross-check of <see cref="Features"/>.
    /// </summary>
    public static Tensor PixelFeatures(Tensor imagesSigned)
    {
        using var _ = no_grad();
        return nn.functional.adaptive_avg_pool2d(imagesSigned.to(float32), [8, 8]).flatten(1).to(float64);
    }

    /// <summary>Mean and covariance of <see cref="PixelFeatures"/> of all batches.</summary>
    public static GaussianStats PixelStats(IEnumerable<Tensor> batches)
    {
        using var acc = new GaussianStatsAccumulator(192);
        foreach (var b in batches)
            using (var f = PixelFeatures(b))
                acc.Add(f);
        return acc.ToStats();
    }

    public void Dispose() => _net.Dispose();
}
