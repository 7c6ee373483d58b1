using System.Runtime.CompilerServices;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine;
using Pipeline.Worker.Operations.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Metrics;

/// <summary>Generator samples for the feature extractors of FID/KID, the same for metrics jobs and training's records.</summary>
public static class GeneratedImages
{
    /// <summary>
    /// Generated images in [0, 1] for feature extractors, z from a CPU generator seeded with <paramref name="seed"/>
    /// (so a rerun sees the same images): metrics jobs and training's metric records.
    /// </summary>
    public static async IAsyncEnumerable<Tensor> Stream(Pipeline.Engine.StyleGan2.Generator g, long seed, double truncation, bool randomizeNoise,
        long count, int batch, Device dev, [EnumeratorCancellation] CancellationToken ct)
    {
        Tensor? mean;
        // The truncation centre of `pipeline generate` and augmentation jobs (one rule), with fid.py's truncation_mean 4096.
        lock (g) mean = StyleGan2Sampling.TruncationMean(g, truncation, 4096, dev);
        using var gen = new TorchSharp.torch.Generator(unchecked((ulong)seed));
        try
        {
            for (long done = 0; done < count; done += batch)
            {
                ct.ThrowIfCancellationRequested();
                int n = (int)Math.Min(batch, count - done);
                // The consumer owns (and disposes) each yielded batch; everything else of the batch dies here.
                yield return GenerateBatch(g, gen, n, truncation, mean, randomizeNoise, dev);
                await Task.Yield();
            }
        }
        finally
        {
            mean?.Dispose();
        }
    }

    /// <summary>
    /// One batch in [0, 1], synchronous so that its dispose scope and the model lock never span an await (a scope is
    /// per thread: across an await another job's tensors would land in it).
    /// </summary>
    private static Tensor GenerateBatch(Pipeline.Engine.StyleGan2.Generator g, TorchSharp.torch.Generator gen, int n, double truncation, Tensor? mean, bool randomizeNoise, Device dev)
    {
        lock (g)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var z = randn([n, g.Config.StyleDim], generator: gen).to(dev);
            var image = g.Forward([z], new GenerateOptions { Truncation = truncation, TruncationLatent = mean, RandomizeNoise = randomizeNoise }).Image;
            return ((image.clamp(-1, 1) + 1) / 2).detach().MoveToOuterDisposeScope();
        }
    }
}
