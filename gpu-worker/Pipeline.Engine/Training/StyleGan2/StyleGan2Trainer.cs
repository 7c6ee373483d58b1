using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Training.StyleGan2;

/// <summary>
/// rosinality train.py's state and iteration (spec 9): G, D and the EMA generator, the two lazily-regularised Adam
/// optimisers, the path-length moving mean and the iteration counter. <see cref="Step"/> runs one iteration on a batch
/// of real images in [-1, 1]; <see cref="Save"/>/<see cref="Resume"/> use train.py's checkpoint layout.
/// </summary>
public sealed class StyleGan2Trainer : IDisposable
{
    private readonly Random _random;
    private readonly torch.Generator _noise;

    public Generator G { get; }
    public Discriminator D { get; }
    public Generator GEma { get; }
    public ReferenceAdam GOptim { get; }
    public ReferenceAdam DOptim { get; }
    public StyleGan2TrainOptions Options { get; }

    /// <summary>The next iteration's index i (train.py's idx + start_iter).</summary>
    public long Iteration { get; set; }

    /// <summary>train.py's mean_path_length (0 at start and, as in the reference, after a resume).</summary>
    public double MeanPathLength { get; set; }

    public StyleGan2Trainer(GeneratorConfig gConfig, DiscriminatorConfig dConfig, StyleGan2TrainOptions options, Device? device = null)
        : this(new Generator(gConfig), new Discriminator(dConfig), new Generator(gConfig), options, device, copyEma: true)
    {
    }

    private StyleGan2Trainer(Generator g, Discriminator d, Generator gEma, StyleGan2TrainOptions options, Device? device, bool copyEma)
    {
        options.Validate();
        if (g.Config.Size != d.Config.Size) throw new ArgumentException($"generator size {g.Config.Size} != discriminator size {d.Config.Size}");
        Options = options;
        device ??= CPU;
        G = g.to(device);
        D = d.to(device);
        GEma = gEma.to(device);
        GEma.eval();
        foreach (var p in GEma.parameters()) p.requires_grad = false;
        if (copyEma) Accumulate(GEma, G, 0);
        var (gLr, gB1, gB2) = options.GOptim;
        var (dLr, dB1, dB2) = options.DOptim;
        GOptim = new ReferenceAdam(G.parameters(), gLr, gB1, gB2);
        DOptim = new ReferenceAdam(D.parameters(), dLr, dB1, dB2);
        _random = new Random(unchecked((int)options.Seed));
        _noise = new torch.Generator((ulong)options.Seed, device);
    }

    private Device Device => G.Device;

    /// <summary>accumulate(model1, model2, decay): p1 = decay·p1 + (1 − decay)·p2 for parameters only (buffers stay).</summary>
    public static void Accumulate(Generator ema, Generator source, double decay)
    {
        using var _ = no_grad();
        var src = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in ema.named_parameters())
            p.mul_(decay).add_(src[name], alpha: 1 - decay);
    }

    private static void RequiresGrad(nn.Module m, bool flag)
    {
        foreach (var p in m.parameters()) p.requires_grad = flag;
    }

    /// <summary>mixing_noise: with probability <c>mixing</c> two z (style mixing), else one.</summary>
    private List<Tensor> MixingNoise(long batch)
    {
        int n = Options.Mixing > 0 && _random.NextDouble() < Options.Mixing ? 2 : 1;
        return [.. Enumerable.Range(0, n).Select(_ => randn([batch, G.Config.StyleDim], generator: _noise, device: Device))];
    }

    private (Tensor Image, Tensor Latent) Generate(List<Tensor> z) =>
        G.Forward(z, new GenerateOptions { MixingRandom = _random, Noise = RandomNoise(z[0].shape[0]) });

    // randomize_noise=True draws a fresh map per layer; drawing it here keeps a seeded run reproducible.
    private Tensor?[] RandomNoise(long batch) =>
        [.. Enumerable.Range(0, G.Config.NumLayers).Select(l => (Tensor?)randn([batch, 1, Generator.NoiseRes(l), Generator.NoiseRes(l)], generator: _noise, device: Device))];

    /// <summary>One train.py iteration (spec 9.4) on <paramref name="real"/> [B, 3, S, S] in [-1, 1], then the EMA update.</summary>
    public StyleGan2StepStats Step(Tensor real)
    {
        using var scope = NewDisposeScope();
        long i = Iteration;
        long batch = real.shape[0];
        real = real.to(Device);

        // 1. D step, G frozen.
        RequiresGrad(G, false);
        RequiresGrad(D, true);
        var (fakeImg, _) = Generate(MixingNoise(batch));
        var fakePred = D.forward(fakeImg);
        var realPred = D.forward(real);
        var dLoss = TrainingLosses.DLogistic(realPred, fakePred);
        DOptim.ZeroGrad();
        dLoss.backward();
        DOptim.Step();
        var realScore = realPred.mean().detach();
        var fakeScore = fakePred.mean().detach();

        // 2. Lazy R1.
        bool doR1 = Options.DRegEvery > 0 && i % Options.DRegEvery == 0;
        Tensor r1Loss = zeros(1).squeeze();
        if (doR1)
        {
            var realReq = real.detach().requires_grad_(true);
            var pred = D.forward(realReq);
            r1Loss = TrainingLosses.R1Penalty(pred, realReq);
            DOptim.ZeroGrad();
            (Options.R1 / 2 * r1Loss * Options.DRegEvery + 0 * pred[0]).sum().backward();
            DOptim.Step();
            r1Loss = r1Loss.detach();
        }

        // 3. G step, D frozen.
        RequiresGrad(G, true);
        RequiresGrad(D, false);
        var (gFake, _) = Generate(MixingNoise(batch));
        var gLoss = TrainingLosses.GNonSaturating(D.forward(gFake));
        GOptim.ZeroGrad();
        gLoss.backward();
        GOptim.Step();

        // 4. Lazy path-length regularisation.
        bool doPath = Options.GRegEvery > 0 && Options.PathRegularize > 0 && i % Options.GRegEvery == 0;
        Tensor pathLoss = zeros(1).squeeze(), pathLengths = zeros(1);
        if (doPath)
        {
            long pb = Math.Max(1, batch / Options.PathBatchShrink);
            var (img, latents) = Generate(MixingNoise(pb));
            var pl = TrainingLosses.PathLengthPenalty(img, latents, MeanPathLength, noise: randn(img.shape, generator: _noise, device: Device));
            GOptim.ZeroGrad();
            var weighted = Options.PathRegularize * Options.GRegEvery * pl.Penalty;
            if (Options.PathBatchShrink > 1) weighted = weighted + 0 * img[0, 0, 0, 0];
            weighted.backward();
            GOptim.Step();
            MeanPathLength = pl.PathMean.item<float>();
            pathLoss = pl.Penalty.detach();
            pathLengths = pl.PathLengths.detach();
        }
        RequiresGrad(D, true);

        // 5. EMA.
        Accumulate(GEma, G, Options.EmaDecay);
        Iteration++;
        return new StyleGan2StepStats(i, dLoss.item<float>(), gLoss.item<float>(), r1Loss.item<float>(), pathLoss.item<float>(),
            MeanPathLength, realScore.item<float>(), fakeScore.item<float>(), pathLengths.mean().item<float>(), doR1, doPath);
    }

    /// <summary>
    /// train.py's checkpoint dict {g, d, g_ema, g_optim, d_optim, args, ada_aug_p}; <c>args</c> is a plain dict (the
    /// reference pickles an argparse Namespace), <c>latent_avg</c> is added when given (convert_weight.py's key, used for truncation).
    /// </summary>
    public OrderedDictionary<string, object?> CheckpointTree(Tensor? latentAvg = null)
    {
        static OrderedDictionary<string, object?> Sd(nn.Module m)
        {
            var d = new OrderedDictionary<string, object?>();
            foreach (var (k, v) in m.state_dict()) d[k] = v.detach().cpu();
            return d;
        }
        var o = Options;
        var args = new Dictionary<string, object?>
        {
            ["batch"] = (long)o.Batch, ["size"] = (long)G.Config.Size, ["r1"] = o.R1,
            ["path_regularize"] = o.PathRegularize, ["path_batch_shrink"] = (long)o.PathBatchShrink,
            ["d_reg_every"] = (long)o.DRegEvery, ["g_reg_every"] = (long)o.GRegEvery, ["mixing"] = o.Mixing, ["lr"] = o.Lr,
            ["latent"] = (long)G.Config.StyleDim, ["n_mlp"] = (long)G.Config.NMlp, ["start_iter"] = Iteration,
            ["augment"] = false, ["augment_p"] = 0.0, ["ema_decay"] = o.EmaDecay, ["seed"] = o.Seed,
            ["mean_path_length"] = MeanPathLength,
        };
        var tree = new OrderedDictionary<string, object?>
        {
            ["g"] = Sd(G), ["d"] = Sd(D), ["g_ema"] = Sd(GEma),
            ["g_optim"] = GOptim.StateDict(), ["d_optim"] = DOptim.StateDict(),
            ["args"] = args, ["ada_aug_p"] = 0.0,
        };
        if (latentAvg is not null) tree["latent_avg"] = latentAvg.detach().cpu().reshape(-1);
        return tree;
    }

    /// <summary>Writes <see cref="CheckpointTree"/> with torch.save's zip format (atomic).</summary>
    public void Save(string path, Tensor? latentAvg = null) => TorchFile.Save(path, CheckpointTree(latentAvg));

    /// <summary>
    /// Continues from a checkpoint: architecture from the tensor shapes, weights and optimiser states, the iteration from
    /// <c>args.start_iter</c> (ours store the next iteration there) or the file name (<c>NNNNNN.pt</c>, as train.py parses it), else 0. Options come from the caller.
    /// </summary>
    public static StyleGan2Trainer Resume(string path, StyleGan2TrainOptions options, Device? device = null)
    {
        var tree = TorchFile.Load(path) as OrderedDictionary<string, object?>
            ?? throw new InvalidDataException($"{path}: not a train.py checkpoint (top level is not a dict)");
        foreach (var key in new[] { "g", "d", "g_ema" })
            if (!StateDicts.Has(tree, key)) throw new InvalidDataException($"{path}: no '{key}' entry; resume needs a train.py checkpoint with g, d and g_ema");
        var g = Generator.FromStateDict(StateDicts.Get(tree, "g"), what: $"{path}['g']");
        var gEma = Generator.FromStateDict(StateDicts.Get(tree, "g_ema"), what: $"{path}['g_ema']");
        var d = Discriminator.FromStateDict(StateDicts.Get(tree, "d"), $"{path}['d']");
        var t = new StyleGan2Trainer(g, d, gEma, options, device, copyEma: false);
        if (tree.TryGetValue("g_optim", out var go) && go is not null) t.GOptim.LoadStateDict(go, $"{path}['g_optim']");
        if (tree.TryGetValue("d_optim", out var dopt) && dopt is not null) t.DOptim.LoadStateDict(dopt, $"{path}['d_optim']");
        t.Iteration = IterationOf(tree, path);
        if (tree.TryGetValue("args", out var a) && a is IDictionary<string, object?> args && args.TryGetValue("mean_path_length", out var m) && m is double mpl)
            t.MeanPathLength = mpl;
        return t;
    }

    private static long IterationOf(OrderedDictionary<string, object?> tree, string path)
    {
        if (tree.TryGetValue("args", out var a) && a is IDictionary<string, object?> args && args.TryGetValue("start_iter", out var it) && it is long l)
            return l;
        return long.TryParse(Path.GetFileNameWithoutExtension(path), out var n) ? n : 0;
    }

    public void Dispose()
    {
        GOptim.Dispose();
        DOptim.Dispose();
        _noise.Dispose();
        G.Dispose();
        D.Dispose();
        GEma.Dispose();
    }
}
