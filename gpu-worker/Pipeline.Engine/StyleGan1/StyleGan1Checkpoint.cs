using Pipeline.Engine.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>
/// The state_dicts of a StyleGAN v1 checkpoint. Accepts train.py's five-key dict (generator, discriminator,
/// g_optimizer, d_optimizer, g_running), a bare generator state_dict (the periodic `NNNNNN.model` files) and a bare
/// discriminator state_dict, in the zip or legacy torch.save format. Models created from it copy the weights, so
/// dispose the checkpoint once they are built: that frees every tensor of a file read by <see cref="Load"/>.
/// </summary>
public sealed class StyleGan1Checkpoint : IDisposable
{
    /// <summary>The whole unpickled tree when <see cref="Load"/> read it (optimiser states too); null for a caller's tree.</summary>
    private object? _ownedTree;

    /// <summary>The EMA generator to sample from (generate.py's choice); null when the file has none.</summary>
    public OrderedDictionary<string, Tensor>? GRunning { get; private init; }

    /// <summary>The trained (non-averaged) generator, for continuing training; null when absent.</summary>
    public OrderedDictionary<string, Tensor>? GeneratorState { get; private init; }

    public OrderedDictionary<string, Tensor>? DiscriminatorState { get; private init; }

    /// <summary>Where it came from, for messages.</summary>
    public string Source { get; private init; } = "checkpoint";

    /// <summary>Reads a torch.save file (zip or legacy format).</summary>
    public static StyleGan1Checkpoint Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"StyleGAN v1 checkpoint '{path}' does not exist", path);
        object? tree;
        try { tree = TorchFile.Load(path); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"'{path}' is not a readable PyTorch checkpoint (torch.save zip or legacy format): {e.Message}", e);
        }
        try
        {
            var checkpoint = FromTree(tree, path);
            checkpoint._ownedTree = tree;
            return checkpoint;
        }
        catch
        {
            CheckpointTrees.DisposeTensors(tree);
            throw;
        }
    }

    /// <summary>Frees the tensors of a file read by <see cref="Load"/>; a tree passed to <see cref="FromTree"/> stays its caller's.</summary>
    public void Dispose()
    {
        CheckpointTrees.DisposeTensors(Interlocked.Exchange(ref _ownedTree, null));
    }

    /// <summary>Interprets an unpickled checkpoint tree (see <see cref="TorchFile"/>).</summary>
    public static StyleGan1Checkpoint FromTree(object? tree, string source = "checkpoint")
    {
        if (tree is not OrderedDictionary<string, object?> root)
            throw new InvalidDataException($"{source}: expected a dict (train.py checkpoint or state_dict), found {tree?.GetType().Name ?? "None"}");
        var family = ModelFamily.Detect(tree);
        if (family == GanFamily.StyleGan2)
            throw new InvalidDataException($"{source} is a StyleGAN2 checkpoint (keys like g_ema / convs.* / noises.*), not StyleGAN v1: use the stylegan2 engine for it");
        if (root.ContainsKey("g_running") || root.ContainsKey("generator") || root.ContainsKey("discriminator"))
        {
            OrderedDictionary<string, Tensor>? Sd(string k) => StateDicts.Has(root, k) ? StateDicts.Get(root, k) : null;
            var ck = new StyleGan1Checkpoint { GRunning = Sd("g_running"), GeneratorState = Sd("generator"), DiscriminatorState = Sd("discriminator"), Source = source };
            if (ck.GRunning is null && ck.GeneratorState is null && ck.DiscriminatorState is null)
                throw new InvalidDataException($"{source}: the generator/discriminator entries are not state_dicts");
            return ck;
        }
        var sd = StateDicts.Get(root);
        if (sd.Keys.Any(k => k.StartsWith("generator.progression.", StringComparison.Ordinal)))
            return new StyleGan1Checkpoint { GRunning = sd, Source = source };
        if (sd.Keys.Any(k => k.StartsWith("from_rgb.", StringComparison.Ordinal)))
            return new StyleGan1Checkpoint { DiscriminatorState = sd, Source = source };
        throw new InvalidDataException(
            $"{source} is not a StyleGAN v1 checkpoint: expected keys g_running/generator/discriminator or a state_dict with generator.progression.*; top-level keys: {string.Join(", ", root.Keys.Take(12))}");
    }

    /// <summary>
    /// Builds and loads (strictly) a StyledGenerator, configured from the state_dict's shapes. Uses g_running unless
    /// <paramref name="useRunningAverage"/> is false.
    /// </summary>
    public StyledGenerator CreateGenerator(bool useRunningAverage = true, Device? device = null)
    {
        var sd = (useRunningAverage ? GRunning ?? GeneratorState : GeneratorState)
                 ?? throw new InvalidDataException($"{Source} holds no {(useRunningAverage ? "g_running" : "generator")} state_dict");
        var g = new StyledGenerator(StyleGan1GeneratorConfig.Infer(sd));
        StateDicts.Load(g, sd, strict: true, what: "StyleGAN v1 StyledGenerator");
        g.eval();
        if (device is not null) g.to(device);
        return g;
    }

    /// <summary>Builds and loads (strictly) the Discriminator, detecting the from_rgb variant from the keys.</summary>
    public Discriminator CreateDiscriminator(Device? device = null)
    {
        var sd = DiscriminatorState ?? throw new InvalidDataException($"{Source} holds no discriminator state_dict");
        var d = new Discriminator(StyleGan1DiscriminatorConfig.Infer(sd));
        StateDicts.Load(d, sd, strict: true, what: "StyleGAN v1 Discriminator");
        d.eval();
        if (device is not null) d.to(device);
        return d;
    }
}
