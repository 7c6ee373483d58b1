using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>
/// Shape of a StyleGAN2 generator. <see cref="Channels"/> maps resolution (4, 8, ..., Size) to feature channels;
/// the reference derives it from channel_multiplier, checkpoints of other tables load as well.
/// </summary>
public sealed record GeneratorConfig(int Size, int StyleDim, int NMlp, IReadOnlyDictionary<int, int> Channels, double LrMlp = 0.01)
{
    public int LogSize { get; } = CheckedLog2(Size);
    /// <summary>Number of StyledConvs = number of noise inputs.</summary>
    public int NumLayers => (LogSize - 2) * 2 + 1;
    /// <summary>Rows of the per-layer latent (W+).</summary>
    public int NLatent => LogSize * 2 - 2;
    /// <summary>Entries of a SOAT style list (conv1, to_rgb1, then conv, conv, to_rgb per block).</summary>
    public int NumStyles => 2 + 3 * (LogSize - 2);

    public int ChannelsAt(int resolution) =>
        Channels.TryGetValue(resolution, out var c) ? c : throw new ArgumentException($"channel table has no entry for resolution {resolution}");

    /// <summary>The reference table: 512 up to 32 px, then 256cm, 128cm, 64cm, 32cm, 16cm.</summary>
    public static IReadOnlyDictionary<int, int> ReferenceChannels(int channelMultiplier = 2) => new Dictionary<int, int>
    {
        [4] = 512, [8] = 512, [16] = 512, [32] = 512, [64] = 256 * channelMultiplier, [128] = 128 * channelMultiplier,
        [256] = 64 * channelMultiplier, [512] = 32 * channelMultiplier, [1024] = 16 * channelMultiplier,
    };

    /// <summary>Generator(size, style_dim, n_mlp, channel_multiplier) as the reference builds it.</summary>
    public static GeneratorConfig Reference(int size, int styleDim = 512, int nMlp = 8, int channelMultiplier = 2) =>
        new(size, styleDim, nMlp, ReferenceChannels(channelMultiplier).Where(kv => kv.Key <= size).ToDictionary());

    /// <summary>
    /// Infers size, style_dim, n_mlp and the channel table from a generator state_dict (keys of spec section 4).
    /// lr_mlp is not visible in the weights; every reference script uses 0.01.
    /// </summary>
    public static GeneratorConfig FromStateDict(IReadOnlyDictionary<string, Tensor> sd, double lrMlp = 0.01)
    {
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t
            : throw new InvalidDataException($"not a StyleGAN2 generator state_dict: missing '{key}' (found {sd.Count} keys, e.g. {string.Join(", ", sd.Keys.Take(5))})");
        int styleDim = (int)Need("conv1.conv.modulation.weight").shape[1];
        int nMlp = 0;
        while (sd.ContainsKey($"style.{nMlp + 1}.weight")) nMlp++;
        int blocks = 0;
        while (sd.ContainsKey($"to_rgbs.{blocks}.conv.weight")) blocks++;
        var channels = new Dictionary<int, int> { [4] = (int)Need("input.input").shape[1] };
        for (int j = 0; j < blocks; j++)
            channels[1 << (j + 3)] = (int)Need($"convs.{2 * j}.conv.weight").shape[1];
        return new GeneratorConfig(1 << (blocks + 2), styleDim, nMlp, channels, lrMlp);
    }

    internal static int CheckedLog2(int size)
    {
        if (size < 4 || (size & (size - 1)) != 0) throw new ArgumentException($"size must be a power of two >= 4, got {size}");
        return System.Numerics.BitOperations.Log2((uint)size);
    }
}

/// <summary>Shape of a StyleGAN2 discriminator (same channel table convention as the generator).</summary>
public sealed record DiscriminatorConfig(int Size, IReadOnlyDictionary<int, int> Channels)
{
    public int LogSize { get; } = GeneratorConfig.CheckedLog2(Size);

    public int ChannelsAt(int resolution) =>
        Channels.TryGetValue(resolution, out var c) ? c : throw new ArgumentException($"channel table has no entry for resolution {resolution}");

    public static DiscriminatorConfig Reference(int size, int channelMultiplier = 2) =>
        new(size, GeneratorConfig.ReferenceChannels(channelMultiplier).Where(kv => kv.Key <= size).ToDictionary());

    /// <summary>Infers size and channel table from a discriminator state_dict.</summary>
    public static DiscriminatorConfig FromStateDict(IReadOnlyDictionary<string, Tensor> sd)
    {
        Tensor Need(string key) => sd.TryGetValue(key, out var t) ? t
            : throw new InvalidDataException($"not a StyleGAN2 discriminator state_dict: missing '{key}'");
        int blocks = 0;
        while (sd.ContainsKey($"convs.{blocks + 1}.conv1.0.weight")) blocks++;
        int logSize = blocks + 2;
        var channels = new Dictionary<int, int> { [1 << logSize] = (int)Need("convs.0.0.weight").shape[0] };
        for (int k = 1; k <= blocks; k++)
            channels[1 << (logSize - k)] = (int)Need($"convs.{k}.conv2.1.weight").shape[0];
        channels[4] = (int)Need("final_conv.1.bias").shape[0];
        return new DiscriminatorConfig(1 << logSize, channels);
    }
}
