namespace Pipeline.Engine.StyleGan1;

/// <summary>Which generator family a checkpoint belongs to.</summary>
public enum GanFamily
{
    Unknown,
    /// <summary>rosinality/style-based-gan-pytorch (StyleGAN v1): `g_running`, `generator.progression.*`, `style.N.linear.weight_orig`.</summary>
    StyleGan1,
    /// <summary>rosinality/stylegan2-pytorch: `g_ema`, `latent_avg`, `input.input`, `convs.*`, `to_rgbs.*`, `noises.*`, `style.N.weight`.</summary>
    StyleGan2,
}

/// <summary>
/// Tells StyleGAN v1 from v2 checkpoints by their keys, so augmentation jobs can take either family. Accepts the
/// top-level keys of a checkpoint dict, the keys of a state_dict, or both mixed.
/// </summary>
public static class ModelFamily
{
    public static GanFamily Detect(IEnumerable<string> keys)
    {
        int v1 = 0, v2 = 0;
        foreach (var k in keys)
        {
            if (k is "g_running" || k.StartsWith("generator.progression.", StringComparison.Ordinal)
                || k.StartsWith("generator.to_rgb.", StringComparison.Ordinal) || IsV1Mapping(k)
                || k.EndsWith(".weight_orig", StringComparison.Ordinal))
                v1++;
            else if (k is "g_ema" or "latent_avg" or "input.input" || k.StartsWith("convs.", StringComparison.Ordinal)
                     || k.StartsWith("to_rgbs.", StringComparison.Ordinal) || k.StartsWith("noises.", StringComparison.Ordinal)
                     || k.StartsWith("to_rgb1.", StringComparison.Ordinal) || k.EndsWith(".modulation.weight", StringComparison.Ordinal))
                v2++;
        }
        if (v1 == 0 && v2 == 0) return GanFamily.Unknown;
        return v1 >= v2 ? GanFamily.StyleGan1 : GanFamily.StyleGan2;
    }

    /// <summary>Detects the family of an unpickled checkpoint tree (its top-level keys and those of its nested dicts).</summary>
    public static GanFamily Detect(object? checkpointTree)
    {
        if (checkpointTree is not OrderedDictionary<string, object?> root) return GanFamily.Unknown;
        var keys = new List<string>(root.Keys);
        foreach (var v in root.Values)
            if (v is OrderedDictionary<string, object?> inner) keys.AddRange(inner.Keys);
        return Detect(keys);
    }

    /// <summary>Loads a torch.save file (zip or legacy) and detects its family.</summary>
    public static GanFamily DetectFile(string path) => Detect(Pipeline.Engine.IO.TorchFile.Load(path));

    private static bool IsV1Mapping(string k) =>
        k.StartsWith("style.", StringComparison.Ordinal) && k.EndsWith(".linear.weight_orig", StringComparison.Ordinal);
}
