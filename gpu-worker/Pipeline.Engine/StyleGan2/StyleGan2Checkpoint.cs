using Pipeline.Engine.IO;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>
/// The models of a rosinality/SOAT checkpoint: train.py files ({g, d, g_ema, g_optim, d_optim, args, ada_aug_p}),
/// convert_weight.py files ({g_ema, latent_avg[, g, d]}), or a bare generator state_dict. Shapes are inferred
/// from the weights; optimiser states and the pickled args are ignored. Owns its models: disposing it disposes them.
/// </summary>
public sealed class StyleGan2Checkpoint : IDisposable
{
    private StyleGan2Checkpoint(string source) => Source = source;

    public string Source { get; }
    /// <summary>The EMA generator (what sampling, projection and metrics use).</summary>
    public Generator? GEma { get; private init; }
    /// <summary>The training generator (train.py files only, when requested).</summary>
    public Generator? G { get; private init; }
    public Discriminator? D { get; private init; }
    /// <summary>convert_weight.py's dlatent_avg [D], usable as a truncation latent.</summary>
    public Tensor? LatentAvg { get; private init; }

    /// <summary>g_ema, else g: the generator to sample from.</summary>
    public Generator Generator => GEma ?? G ?? throw new InvalidDataException($"{Source}: checkpoint holds no generator");

    /// <summary>latent_avg as [1, D] when the file has one.</summary>
    public Tensor? TruncationLatent => LatentAvg?.reshape(1, -1);

    /// <summary>Reads a torch.save file. Throws FileNotFoundException / InvalidDataException with what is wrong and where.</summary>
    public static StyleGan2Checkpoint Load(string path, bool withTrainingGenerator = false, bool withDiscriminator = false, double lrMlp = 0.01)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"StyleGAN2 checkpoint not found: {path}", path);
        object? tree;
        try { tree = TorchFile.Load(path); }
        catch (Exception e) when (e is not FileNotFoundException)
        {
            throw new InvalidDataException($"{path} is not a readable PyTorch checkpoint (torch.save file): {e.Message}", e);
        }
        StyleGan2Checkpoint? checkpoint = null;
        try
        {
            return checkpoint = FromTree(tree, path, withTrainingGenerator, withDiscriminator, lrMlp);
        }
        finally
        {
            // The modules copied the weights into their own parameters; only latent_avg may be the tree's own tensor.
            CheckpointTrees.DisposeTensors(tree, checkpoint?.LatentAvg);
        }
    }

    /// <summary>Builds the models from an unpickled checkpoint tree (see <see cref="TorchFile.Load(string)"/>).</summary>
    public static StyleGan2Checkpoint FromTree(object? tree, string source = "checkpoint", bool withTrainingGenerator = false, bool withDiscriminator = false, double lrMlp = 0.01)
    {
        if (tree is not OrderedDictionary<string, object?> root)
            throw new InvalidDataException($"{source}: expected a dict at the top level, found {tree?.GetType().Name ?? "None"}");
        if (root.ContainsKey("conv1.conv.weight"))
            return new StyleGan2Checkpoint(source) { GEma = Generator.FromStateDict(StateDicts.Get(root), lrMlp, $"{source} (state_dict)") };

        bool hasEma = StateDicts.Has(root, "g_ema"), hasG = StateDicts.Has(root, "g");
        if (!hasEma && !hasG)
            throw new InvalidDataException($"{source}: no 'g_ema' or 'g' entry, so this is not a StyleGAN2 checkpoint (top-level keys: {string.Join(", ", root.Keys)})");
        Generator Build(string key) => Generator.FromStateDict(StateDicts.Get(root, key), lrMlp, $"{source}['{key}']");
        return new StyleGan2Checkpoint(source)
        {
            GEma = hasEma ? Build("g_ema") : null,
            G = hasG && (withTrainingGenerator || !hasEma) ? Build("g") : null,
            D = withDiscriminator && StateDicts.Has(root, "d") ? Discriminator.FromStateDict(StateDicts.Get(root, "d"), $"{source}['d']") : null,
            LatentAvg = root.TryGetValue("latent_avg", out var la) && la is Tensor t ? t.to(float32) : null,
        };
    }

    public void Dispose()
    {
        GEma?.Dispose();
        G?.Dispose();
        D?.Dispose();
        LatentAvg?.Dispose();
    }
}
