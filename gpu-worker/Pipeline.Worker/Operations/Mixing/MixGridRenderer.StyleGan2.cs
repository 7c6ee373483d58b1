using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Operations.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Mixing;

public static partial class MixGridRenderer
{
    /// <summary>
    /// A StyleGAN2 checkpoint (g_ema, else g): the same grid over the generator's W+ rows, a row's level being the
    /// resolution it modulates (<see cref="StyleMixingGrid2.LatentLevel"/>). PNGs use the one generator-image encoder.
    /// </summary>
    private static Rendered RenderStyleGan2(object? tree, MixRequest req, Device device, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        if (req.NoiseSeed is not null)
            throw new ArgumentException("--noise-seed applies to StyleGAN v1 only: StyleGAN2 grids use the checkpoint's stored noise buffers (noises.noise_*), so every image of a grid shares them");
        var checkpoint = StyleGan2Checkpoint.FromTree(tree, req.ModelPath);
        var g = checkpoint.Generator;
        try
        {
            if (req.Size is { } size && size != g.Config.Size)
                throw new ArgumentException($"--size {size}: a StyleGAN2 generator renders only at its own size, {g.Config.Size} px for this checkpoint; leave --size out");
            g.to(device);
            var options = new StyleMixingGrid2Options
            {
                RowSeeds = req.RowSeeds,
                ColumnSeeds = req.ColumnSeeds,
                Range = req.Range,
                Truncation = req.Truncation,
                MeanLatentSeed = req.MeanStyleSeed,
                BatchSize = req.BatchSize,
            };
            var latentRows = StyleMixingGrid2.RangeRows(g.Config, req.Range);
            var grid = StyleMixingGrid2.Render(g, options, progress, ct);
            int step = StyleMixingGrid2.OutputLevel(g.Config);
            int lo = Math.Max(req.Range.Lo, 0), hi = Math.Min(req.Range.Hi, step);
            return new Rendered(grid, MixManifest.KindNameStyleGan2, step,
                new MixModelInfo("stylegan2", Path.GetFileName(req.ModelPath), new FileInfo(req.ModelPath).Length, "", g.Config.StyleDim, step + 1, TrainedStepDetected: false),
                new MixRangeInfo(req.Range.Name, lo, hi, Enumerable.Range(lo, hi - lo + 1).Select(i => 4 << i).ToArray()) { LatentRows = latentRows },
                NoiseSeed: -1, MixManifest.NoiseStoredBuffers, new MixMeanStyleInfo(options.MeanLatentSeed, options.MeanLatentSamples),
                GeneratorImages.EncodePng);
        }
        finally
        {
            checkpoint.GEma?.Dispose();
            checkpoint.G?.Dispose();
            checkpoint.D?.Dispose();
        }
    }
}
