using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.Engine.StyleGan2.Encoder;

/// <summary>Settings of <see cref="EncoderTrainer"/> (loss weights follow e4e's defaults where they apply).</summary>
public sealed record EncoderTrainOptions
{
    public int Batch { get; init; } = 16;
    public double Lr { get; init; } = 5e-4;
    /// <summary>
    /// Cosine decay of the learning rate from <see cref="Lr"/> to 0 over this many steps of this trainer (null: constant).
    /// A last phase at a falling rate settles weights that a constant rate keeps moving (the bundled encoder's last phase; docs/stylegan2.md).
    /// </summary>
    public long? LrDecaySteps { get; init; }
    public double MseWeight { get; init; } = 1;
    /// <summary>Weight of the perceptual term (e4e: 0.8 LPIPS); unused without a perceptual loss.</summary>
    public double PerceptualWeight { get; init; } = 0.8;
    /// <summary>
    /// L2 between the predicted and the true W+ of generated images. Only generated images have a true code; it
    /// gives a direct gradient to every row, which the pixel loss alone gives weakly for rows the image barely shows.
    /// </summary>
    public double LatentWeight { get; init; } = 1;
    /// <summary>L2 of the predicted W+ toward the mean latent (keeps codes in the region the generator was trained on).</summary>
    public double MeanRegWeight { get; init; } = 1e-3;
    /// <summary>Truncation psi of generated training codes is drawn uniformly from [TruncationMin, 1].</summary>
    public double TruncationMin { get; init; } = 0.5;
    /// <summary>Probability that a generated code mixes two w at a random crossover row.</summary>
    public double Mixing { get; init; } = 0.9;
    /// <summary>Share of each batch taken from real images when a dataset is given.</summary>
    public double RealFraction { get; init; } = 0.5;
    public long Seed { get; init; }
}

/// <summary>One step's losses (already read back from the device).</summary>
public readonly record struct EncoderStepStats(long Iteration, double Loss, double Mse, double Perceptual, double Latent, double MeanReg);

/// <summary>
/// Trains a <see cref="StyleEncoder"/> against a frozen generator: each batch is images the generator draws from random
/// W+ codes (truncation and mixing, fresh noise), optionally with real images, encoded, regenerated and compared.
/// </summary>
public sealed class EncoderTrainer : IDisposable
{
    private readonly IPerceptualLoss? _perceptual;
    private readonly optim.Optimizer _optim;
    private readonly optim.lr_scheduler.LRScheduler? _schedule;
    private long _stepsTaken;
    private readonly Random _random;
    private readonly List<TorchSharp.Modules.Parameter> _frozen;

    public EncoderTrainer(Generator g, StyleEncoder? encoder, EncoderTrainOptions options, IPerceptualLoss? perceptual = null, Device? device = null)
    {
        device ??= g.Device;
        Options = options;
        G = g;
        // The generator is fixed: no gradients for its weights (saves the weight-gradient half of its backward).
        _frozen = g.parameters().Where(p => p.requires_grad).ToList();
        foreach (var p in _frozen) p.requires_grad = false;
        _perceptual = perceptual;
        _random = new Random(unchecked((int)options.Seed));
        manual_seed(options.Seed);
        using (no_grad())
            LatentMean = g.MeanLatent(10000).reshape(-1).DetachFromDisposeScope();
        Encoder = encoder ?? new StyleEncoder(StyleEncoderConfig.For(g.Config), LatentMean);
        Encoder.to(device);
        Encoder.train();
        _optim = optim.Adam(Encoder.parameters(), options.Lr);
        if (options.LrDecaySteps is { } decay)
        {
            if (decay < 1) throw new ArgumentOutOfRangeException(nameof(options), decay, "LrDecaySteps must be at least 1");
            _schedule = optim.lr_scheduler.CosineAnnealingLR(_optim, decay, eta_min: 0);
        }
    }

    /// <summary>The learning rate the next step uses.</summary>
    public double LearningRate => _optim.ParamGroups.First().LearningRate;

    public EncoderTrainOptions Options { get; }
    public Generator G { get; }
    public StyleEncoder Encoder { get; }
    /// <summary>mean of Map(z) over 10,000 z [D], the centre of truncation.</summary>
    public Tensor LatentMean { get; }
    public long Iteration { get; set; }

    /// <summary>Random W+ codes [n, n_latent, D] as the generator is sampled in training: truncation psi ~ U[min, 1] and mixing.</summary>
    public Tensor SampleCodes(int n)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var dev = G.Device;
        int rows = G.Config.NLatent, d = G.Config.StyleDim;
        var w1 = G.Map(randn(n, d, device: dev));
        var w2 = G.Map(randn(n, d, device: dev));
        var psi = rand(n, 1, device: dev) * (1 - Options.TruncationMin) + Options.TruncationMin;
        w1 = LatentMean + psi * (w1 - LatentMean);
        w2 = LatentMean + psi * (w2 - LatentMean);
        // Crossover row per sample; rows >= k come from w2 (k = rows: no mixing).
        var k = new float[n];
        for (int i = 0; i < n; i++) k[i] = _random.NextDouble() < Options.Mixing ? _random.Next(1, rows) : rows;
        var rowIndex = arange(rows, device: dev).reshape(1, rows, 1);
        var fromSecond = rowIndex >= tensor(k, device: dev).reshape(n, 1, 1);
        return scope.MoveToOuter(where(fromSecond, w2.unsqueeze(1), w1.unsqueeze(1)));
    }

    /// <summary>Images [n, 3, S, S] in [-1, 1] that the generator makes from <paramref name="codes"/> with fresh noise.</summary>
    public Tensor Render(Tensor codes)
    {
        using var _ = no_grad();
        return G.Forward([codes], new GenerateOptions { InputIsLatent = true }).Image.clamp(-1, 1);
    }

    /// <summary>One optimiser step. <paramref name="real"/> ([m, 3, S, S] in [-1, 1]) is appended to the generated images.</summary>
    public EncoderStepStats Step(Tensor? real = null)
    {
        using var scope = NewDisposeScope();
        var dev = G.Device;
        int nReal = real is null ? 0 : (int)real.shape[0];
        int nGen = Math.Max(1, Options.Batch - nReal);
        var codes = SampleCodes(nGen);
        var x = Render(codes);
        if (real is not null) x = cat([x, real.to(float32, dev)], 0);

        Encoder.train();
        var pred = Encoder.forward(x);
        var recon = G.Forward([pred], new GenerateOptions { InputIsLatent = true }).Image;
        var mse = F.mse_loss(recon, x);
        var perceptual = _perceptual is null ? zeros(1, device: dev).sum() : _perceptual.Distance(recon, x).mean();
        var latent = F.mse_loss(pred.narrow(0, 0, nGen), codes);
        var meanReg = (pred - LatentMean).square().mean();
        var loss = Options.MseWeight * mse + Options.PerceptualWeight * perceptual + Options.LatentWeight * latent + Options.MeanRegWeight * meanReg;
        _optim.zero_grad();
        loss.backward();
        _optim.step();
        // Past the decay horizon the rate stays at 0 (the cosine would climb again).
        if (_schedule is not null && ++_stepsTaken <= Options.LrDecaySteps) _schedule.step();
        Iteration++;
        var v = stack([loss, mse, perceptual, latent, meanReg]).detach().cpu().to(float64).data<double>().ToArray();
        return new EncoderStepStats(Iteration - 1, v[0], v[1], v[2], v[3], v[4]);
    }

    public void Dispose()
    {
        foreach (var p in _frozen) p.requires_grad = true;
        _optim.Dispose();
    }
}
