using static TorchSharp.torch;

namespace Pipeline.Engine;

/// <summary>
/// The one seed-to-latent rule of the pipeline: randn from torch's CPU generator seeded with the seed, so a seed means
/// the same z (and image) on every device, batch and entry point (CLI, jobs, grids, metrics).
/// </summary>
public static class SeededLatents
{
    /// <summary>randn([rows, dim]) from a CPU generator seeded with <paramref name="seed"/>, moved to <paramref name="device"/>.</summary>
    public static Tensor Z(long seed, int rows, int dim, Device? device = null)
    {
        using var gen = new TorchSharp.torch.Generator(unchecked((ulong)seed), CPU);
        var z = randn([rows, dim], generator: gen);
        return device is null || device.type == TorchSharp.DeviceType.CPU ? z : z.to(device);
    }

    /// <summary>The z of one seed: [1, dim] on the CPU.</summary>
    public static Tensor Z(long seed, int dim) => Z(seed, 1, dim);

    /// <summary>One z row per seed ([seeds, dim]), each drawn as <see cref="Z(long, int)"/>.</summary>
    public static Tensor Z(IEnumerable<long> seeds, int dim, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var z = cat(seeds.Select(s => Z(s, dim)).ToArray(), 0);
        return (device is null ? z : z.to(device)).MoveToOuterDisposeScope();
    }
}
