namespace Pipeline.Engine.Training.StyleGan2;

/// <summary>train.py's command-line options that shape one iteration (spec 9.1); defaults are the reference's.</summary>
public sealed record StyleGan2TrainOptions
{
    public int Batch { get; init; } = 16;
    public double Lr { get; init; } = 0.002;
    /// <summary>R1 weight; the penalty is minimised as r1/2 · R1 · d_reg_every every d_reg_every iterations.</summary>
    public double R1 { get; init; } = 10;
    public double PathRegularize { get; init; } = 2;
    public int PathBatchShrink { get; init; } = 2;
    public int DRegEvery { get; init; } = 16;
    public int GRegEvery { get; init; } = 4;
    public double Mixing { get; init; } = 0.9;
    /// <summary>accumulate()'s decay, 0.5^(32 / (10 · 1000)) in train.py.</summary>
    public double EmaDecay { get; init; } = ReferenceEmaDecay;
    /// <summary>Seeds z, the mixing coin and inject index, the noise maps and the flips (the reference is unseeded).</summary>
    public long Seed { get; init; }

    /// <summary>0.5^(32 / (10 · 1000)) = 0.99778…: half-life of 10k images at batch 32 (train.py).</summary>
    public static readonly double ReferenceEmaDecay = Math.Pow(0.5, 32.0 / (10 * 1000));

    /// <summary>Lazy-regularisation correction c = every / (every + 1) (1 when the regulariser is off).</summary>
    public static double RegRatio(int every) => every > 0 ? every / (every + 1.0) : 1;

    /// <summary>G's Adam: lr · c, betas (0, 0.99^c) with c = g_reg_every / (g_reg_every + 1).</summary>
    public (double Lr, double Beta1, double Beta2) GOptim => (Lr * RegRatio(GRegEvery), 0, Math.Pow(0.99, RegRatio(GRegEvery)));

    /// <summary>D's Adam: lr · c, betas (0, 0.99^c) with c = d_reg_every / (d_reg_every + 1).</summary>
    public (double Lr, double Beta1, double Beta2) DOptim => (Lr * RegRatio(DRegEvery), 0, Math.Pow(0.99, RegRatio(DRegEvery)));

    public void Validate()
    {
        if (Batch < 1) throw new ArgumentException($"batch must be >= 1 (got {Batch})");
        if (Lr <= 0) throw new ArgumentException($"lr must be > 0 (got {Lr})");
        if (Mixing is < 0 or > 1) throw new ArgumentException($"mixing is a probability (got {Mixing})");
        if (EmaDecay is < 0 or > 1) throw new ArgumentException($"ema decay must be in [0, 1] (got {EmaDecay})");
        if (PathBatchShrink < 1) throw new ArgumentException($"path_batch_shrink must be >= 1 (got {PathBatchShrink})");
    }
}

/// <summary>One iteration's scalars, named like train.py's loss_dict / log line.</summary>
public sealed record StyleGan2StepStats(
    long Iteration, double D, double G, double R1, double Path, double MeanPathLength,
    double RealScore, double FakeScore, double PathLength, bool DidR1, bool DidPath);
