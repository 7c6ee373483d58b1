using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Sampling;

/// <summary>Latent draws reproducible from a seed on any device (torch's CPU generator seeded with it).</summary>
public static class SeededLatents
{
    /// <summary>[rows, dim] standard normal z drawn from a CPU generator seeded with <paramref name="seed"/>, moved to <paramref name="dev"/>.</summary>
    public static Tensor Draw(long seed, int rows, int dim, Device dev)
    {
        using var gen = new TorchSharp.torch.Generator(unchecked((ulong)seed));
        return randn([rows, dim], generator: gen).to(dev);
    }
}
