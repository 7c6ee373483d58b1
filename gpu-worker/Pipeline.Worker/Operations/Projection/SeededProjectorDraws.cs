using Pipeline.Engine.StyleGan2;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Projection;

/// <summary>
/// Projection draws with one generator per image (seeded by its job, or by `pipeline project --seed`), so an image's
/// projection does not depend on which other images happened to share its batch, and a file projected by a job and by
/// the CLI with the same seed gets the same draws. The latent statistics use a fixed model-level seed.
/// Disposable: the torch generators are native objects, one set per batch.
/// </summary>
public sealed class SeededProjectorDraws(IReadOnlyList<long> seeds) : IProjectorDraws, IDisposable
{
    private readonly TorchSharp.torch.Generator[] _gens = seeds.Select(s => new TorchSharp.torch.Generator((ulong)s)).ToArray();

    public Tensor MeanLatentZ(int n, int styleDim, Device device)
    {
        using var g = new TorchSharp.torch.Generator(0);
        return randn([n, styleDim], generator: g).to(device);
    }

    public IReadOnlyList<Tensor> InitialNoise(Pipeline.Engine.StyleGan2.Generator g, int batch)
    {
        var shapes = g.MakeNoise(1);
        var result = new List<Tensor>(shapes.Count);
        foreach (var s in shapes)
        {
            result.Add(cat(_gens.Select(gen => randn(s.shape, generator: gen)).ToArray(), 0).to(s.device));
            s.Dispose();
        }
        return result;
    }

    /// <summary>
    /// StyleGAN v1's noise maps (projector.py: one [1, 1, r, r] map per level 0..<paramref name="step"/>, r = 4 * 2^level),
    /// each image's drawn from its own generator: [B, 1, r, r] per level.
    /// </summary>
    public IReadOnlyList<Tensor> InitialNoise(int step, Device device) =>
        Enumerable.Range(0, step + 1)
            .Select(i => cat(_gens.Select(gen => randn([1, 1, 4L << i, 4L << i], generator: gen)).ToArray(), 0).to(device))
            .ToList();

    public void Dispose()
    {
        foreach (var g in _gens) g.Dispose();
    }

    public Tensor LatentNoise(int step, Tensor like)
    {
        var rowShape = like.shape.Skip(1).Prepend(1L).ToArray();
        return cat(_gens.Select(gen => randn(rowShape, generator: gen)).ToArray(), 0).to(like.device);
    }
}
