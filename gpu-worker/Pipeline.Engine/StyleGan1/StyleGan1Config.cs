using System.Globalization;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>
/// Shape of a StyledGenerator. Defaults are the real networks (code_dim 512, 8 mapping layers, nine levels of
/// 512..16 channels, fused upsampling from 128 px). Checkpoints do not record this, so <see cref="Infer"/> reads it
/// from the state_dict's shapes and keys.
/// </summary>
public sealed record StyleGan1GeneratorConfig
{
    public int CodeDim { get; init; } = 512;
    public int NMlp { get; init; } = 8;

    /// <summary>Output channels of each level (level i works at 4 * 2^i px).</summary>
    public IReadOnlyList<int> Channels { get; init; } = [512, 512, 512, 512, 256, 128, 64, 32, 16];

    /// <summary>Levels whose conv1 is the fused transposed conv (the others use nearest-upsample + conv).</summary>
    public IReadOnlySet<int> FusedLevels { get; init; } = new HashSet<int> { 5, 6, 7, 8 };

    public int Levels => Channels.Count;
    public int MaxStep => Levels - 1;

    /// <summary>Reads the configuration from a StyledGenerator state_dict (keys `generator.*` and `style.*`).</summary>
    public static StyleGan1GeneratorConfig Infer(IReadOnlyDictionary<string, Tensor> sd) =>
        InferFromShapes(sd.ToDictionary(kv => kv.Key, kv => kv.Value.shape));

    /// <summary>As <see cref="Infer"/>, from key -> shape only (e.g. a layout listing).</summary>
    public static StyleGan1GeneratorConfig InferFromShapes(IReadOnlyDictionary<string, long[]> sd)
    {
        var channels = new List<int>();
        var fused = new HashSet<int>();
        for (int i = 0; ; i++)
        {
            var p = $"generator.progression.{i}.";
            if (!sd.TryGetValue(p + "conv2.conv.weight_orig", out var conv2)) break;
            channels.Add((int)conv2[0]);
            if (sd.ContainsKey(p + "conv1.0.weight")) fused.Add(i);
        }
        if (channels.Count == 0)
            throw new InvalidDataException("not a StyleGAN v1 generator state_dict: no 'generator.progression.0.conv2.conv.weight_orig'");
        var mlp = sd.Keys.Select(k => Regex.Match(k, @"^style\.(\d+)\.linear\.weight_orig$"))
            .Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        // The AdaIN affine maps a style (code_dim wide) to 2C; n_mlp may be 0 (the mapping is then only PixelNorm).
        if (!sd.TryGetValue("generator.progression.0.adain1.style.linear.weight_orig", out var adain))
            throw new InvalidDataException("StyleGAN v1 generator state_dict has no 'generator.progression.0.adain1.style.linear.weight_orig'");
        int codeDim = (int)adain[1];
        return new StyleGan1GeneratorConfig { CodeDim = codeDim, NMlp = mlp.Count, Channels = channels, FusedLevels = fused };
    }
}

/// <summary>
/// Shape of a v1 Discriminator. Block j consumes FromRgbChannels[j] channels and produces FromRgbChannels[j+1]
/// (the last block: FromRgbChannels[^1] + 1 stddev channel -> FromRgbChannels[^1]).
/// </summary>
public sealed record StyleGan1DiscriminatorConfig
{
    public IReadOnlyList<int> FromRgbChannels { get; init; } = [16, 32, 64, 128, 256, 512, 512, 512, 512];

    /// <summary>Blocks whose downsampling is the fused strided conv (the others: conv + 2x2 average pooling).</summary>
    public IReadOnlySet<int> FusedBlocks { get; init; } = new HashSet<int> { 0, 1, 2, 3 };

    /// <summary>train.py's default is true (from_rgb = [conv, lrelu], keys `from_rgb.j.0.conv.*`).</summary>
    public bool FromRgbActivate { get; init; } = true;

    public int Blocks => FromRgbChannels.Count;

    /// <summary>Reads the configuration (including the from_rgb variant) from a Discriminator state_dict.</summary>
    public static StyleGan1DiscriminatorConfig Infer(IReadOnlyDictionary<string, Tensor> sd) =>
        InferFromShapes(sd.ToDictionary(kv => kv.Key, kv => kv.Value.shape));

    /// <summary>As <see cref="Infer"/>, from key -> shape only.</summary>
    public static StyleGan1DiscriminatorConfig InferFromShapes(IReadOnlyDictionary<string, long[]> sd)
    {
        bool activate = sd.ContainsKey("from_rgb.0.0.conv.weight_orig");
        if (!activate && !sd.ContainsKey("from_rgb.0.conv.weight_orig"))
            throw new InvalidDataException("not a StyleGAN v1 discriminator state_dict: no 'from_rgb.0.0.conv.weight_orig' or 'from_rgb.0.conv.weight_orig'");
        var widths = new List<int>();
        var fused = new HashSet<int>();
        for (int j = 0; ; j++)
        {
            var key = activate ? $"from_rgb.{j}.0.conv.weight_orig" : $"from_rgb.{j}.conv.weight_orig";
            if (!sd.TryGetValue(key, out var w)) break;
            widths.Add((int)w[0]);
            if (sd.ContainsKey($"progression.{j}.conv2.1.weight")) fused.Add(j);
        }
        return new StyleGan1DiscriminatorConfig { FromRgbChannels = widths, FusedBlocks = fused, FromRgbActivate = activate };
    }
}
