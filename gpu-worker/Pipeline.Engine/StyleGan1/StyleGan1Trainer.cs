using Pipeline.Engine.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>
/// The codes of one generator call of train.py: one z [B, D], or with --mixing two ([z_a, z_b]) that switch at a
/// crossover level. <see cref="InjectIndex"/> holds the n - 1 crossover levels; null means "draw it as the reference
/// does" (it draws a fresh one from Python's random in every multi-code call, so a replay must pass the recorded one).
/// </summary>
public sealed record StyleGan1Codes(IReadOnlyList<Tensor> Z, IReadOnlyList<int>? InjectIndex = null);

/// <summary>train.py's settings (spec section 11); the defaults are the reference's.</summary>
public sealed record StyleGan1TrainOptions
{
    /// <summary>"wgan-gp" (default) or "r1".</summary>
    public string Loss { get; init; } = "wgan-gp";

    /// <summary>--mixing: each iteration, with probability 0.9, both generator calls get two codes and a random crossover.</summary>
    public bool Mixing { get; init; }

    /// <summary>Discriminator and synthesis-network learning rate.</summary>
    public double Lr { get; init; } = 0.001;

    /// <summary>Mapping-network learning rate (train.py: lr x 0.01, the optimiser group's 'mult').</summary>
    public double MappingLr { get; init; } = 0.00001;

    public double EmaDecay { get; init; } = 0.999;
    public double WganDrift { get; init; } = 0.001;
    public double WganGpWeight { get; init; } = 10;
    public double R1Weight { get; init; } = 5;
}

/// <summary>The logged D values, the fake batch D saw, and the crossover that made it (null with one code).</summary>
public sealed record StyleGan1DiscriminatorStep(DiscriminatorStepValues Values, Tensor FakeImage, IReadOnlyList<int>? InjectIndex);

/// <summary>The G loss and the fake batch (both detached) and the crossover of the generator pass (null with one code).</summary>
public sealed record StyleGan1GeneratorStep(Tensor Loss, Tensor FakeImage, IReadOnlyList<int>? InjectIndex);

/// <summary>
/// One train.py iteration (n_critic 1, spec section 11.4) over caller-owned networks: a D step on G(codes) with G
/// frozen, then a G step with D frozen and the EMA into the running generator. Codes, noise, eps and crossovers can be
/// passed in so a recorded iteration replays exactly; what is left out is drawn as the reference draws it.
/// </summary>
public sealed class StyleGan1Trainer : IDisposable
{
    private readonly StyledGenerator generator, running;
    private readonly Discriminator discriminator;
    private readonly Random random;

    public StyleGan1TrainOptions Options { get; }

    /// <summary>train.py's g_optimizer: group 0 = synthesis (generator.*), group 1 = mapping (style.*) at <see cref="StyleGan1TrainOptions.MappingLr"/>.</summary>
    public ReferenceAdam GOptimizer { get; }

    /// <summary>train.py's d_optimizer: one group at <see cref="StyleGan1TrainOptions.Lr"/>.</summary>
    public ReferenceAdam DOptimizer { get; }

    /// <param name="random">Stands in for Python's random (the mixing coin and the crossover draws); null uses a shared one.</param>
    public StyleGan1Trainer(StyledGenerator generator, StyledGenerator running, Discriminator discriminator, StyleGan1TrainOptions? options = null, Random? random = null)
    {
        this.generator = generator;
        this.running = running;
        this.discriminator = discriminator;
        this.random = random ?? Random.Shared;
        Options = options ?? new StyleGan1TrainOptions();
        var g = Params(generator).ToArray();
        // train.py: Adam(betas=(0.0, 0.99)) for both, the mapping network as a second G group.
        GOptimizer = new ReferenceAdam(g.Where(p => p.Name.StartsWith("generator.", StringComparison.Ordinal)).Select(p => p.Param), Options.Lr, 0, 0.99);
        GOptimizer.AddGroup(g.Where(p => p.Name.StartsWith("style.", StringComparison.Ordinal)).Select(p => p.Param), Options.MappingLr);
        DOptimizer = new ReferenceAdam(Params(discriminator).Select(p => p.Param), Options.Lr, 0, 0.99);
    }

    /// <summary>
    /// train.py's codes for both passes: with --mixing and Python's random.random() &lt; 0.9, randn(4, B, D) split into
    /// [z11, z12] (D pass) and [z21, z22] (G pass); otherwise randn(2, B, D) split into one code per pass. Crossovers are
    /// left to the steps (the reference draws them inside each generator call).
    /// </summary>
    public (StyleGan1Codes DPass, StyleGan1Codes GPass) SampleCodes(long batch, torch.Generator? gen = null, Device? device = null)
    {
        bool mix = Options.Mixing && random.NextDouble() < 0.9;
        var z = randn([mix ? 4 : 2, batch, generator.Config.CodeDim], generator: gen).to(device ?? generator.Device).unbind(0);
        return mix ? (new StyleGan1Codes([z[0], z[1]]), new StyleGan1Codes([z[2], z[3]])) : (new StyleGan1Codes([z[0]]), new StyleGan1Codes([z[1]]));
    }

    /// <summary>
    /// The codes with their crossover fixed: a given one is kept (and must have n - 1 levels), a missing one is drawn as
    /// the reference's sorted(random.sample(range(step), n - 1)). One code has no crossover.
    /// </summary>
    public StyleGan1Codes WithCrossover(StyleGan1Codes codes, int step)
    {
        int n = codes.Z.Count;
        if (n == 0) throw new ArgumentException("a generator pass needs at least one code", nameof(codes));
        if (n == 1)
            return codes.InjectIndex is { Count: > 0 } ? throw new ArgumentException("one code has no crossover, but an inject index was given", nameof(codes)) : codes with { InjectIndex = null };
        if (codes.InjectIndex is { } given)
            return given.Count == n - 1 ? codes : throw new ArgumentException($"{n} codes need {n - 1} inject indices, got {given.Count}", nameof(codes));
        return codes with { InjectIndex = StyleSchedule.DrawInjectIndex(n - 1, step, random) };
    }

    /// <summary>G(codes) as train.py calls it (no truncation, no range); noise null draws fresh maps.</summary>
    public static Tensor Generate(StyledGenerator g, StyleGan1Codes codes, int step, double alpha, IReadOnlyList<Tensor>? noise = null) =>
        g.Forward(codes.Z, new StyleGan1ForwardOptions { Step = step, Alpha = alpha, Noise = noise, InjectIndex = codes.InjectIndex });

    /// <summary>
    /// D step: zero D's gradients, fake = G(codes) without gradient, the loss's terms back-propagated into D, one Adam step.
    /// <paramref name="eps"/> is WGAN-GP's per-sample mix [B, 1, 1, 1] (null draws U[0, 1) after the fake, as train.py).
    /// </summary>
    public StyleGan1DiscriminatorStep DiscriminatorStep(Tensor real, StyleGan1Codes codes, int step, double alpha,
        IReadOnlyList<Tensor>? noise = null, Tensor? eps = null)
    {
        codes = WithCrossover(codes, step);
        RequiresGrad(generator, false);
        RequiresGrad(discriminator, true);
        // PyTorch 1.x zero_grad (the fixtures' torch 1.13): existing gradients become zeros, so Adam keeps moving a
        // parameter that took part earlier; set_to_none would skip it.
        discriminator.zero_grad(set_to_none: false);
        Tensor fake;
        using (no_grad()) fake = Generate(generator, codes, step, alpha, noise);
        var values = Options.Loss switch
        {
            "wgan-gp" => StyleGan1Losses.WganGpDiscriminator(discriminator, real, fake,
                eps ?? rand([real.shape[0], 1, 1, 1], device: real.device), step, alpha, Options.WganDrift, Options.WganGpWeight),
            "r1" => StyleGan1Losses.R1Discriminator(discriminator, real, fake, step, alpha, Options.R1Weight),
            _ => throw new ArgumentException($"unknown loss '{Options.Loss}': use wgan-gp or r1"),
        };
        DOptimizer.Step();
        return new StyleGan1DiscriminatorStep(values, fake, codes.InjectIndex);
    }

    /// <summary>G step: zero G's gradients, loss on D(G(codes)) with D frozen, one Adam step (two groups), then the EMA.</summary>
    public StyleGan1GeneratorStep GeneratorStep(StyleGan1Codes codes, int step, double alpha, IReadOnlyList<Tensor>? noise = null)
    {
        codes = WithCrossover(codes, step);
        RequiresGrad(generator, true);
        RequiresGrad(discriminator, false);
        generator.zero_grad(set_to_none: false);
        var fake = Generate(generator, codes, step, alpha, noise);
        var loss = StyleGan1Losses.Generator(discriminator.Score(fake, step, alpha), Options.Loss);
        loss.backward();
        GOptimizer.Step();
        StyleGan1Losses.Accumulate(running, generator, Options.EmaDecay);
        return new StyleGan1GeneratorStep(loss.detach(), fake.detach(), codes.InjectIndex);
    }

    private static void RequiresGrad(nn.Module m, bool flag)
    {
        foreach (var p in m.parameters()) p.requires_grad_(flag);
    }

    /// <summary>Parameters in the reference's state_dict order (the optimiser state is keyed by that position).</summary>
    private static IEnumerable<(string Name, Parameter Param)> Params(nn.Module m) =>
        StateDictOrder.Entries(m).Where(e => !e.IsBuffer).Select(e => (e.Name, (Parameter)e.Tensor));

    /// <summary>Frees the optimisers' moments; the networks stay the caller's.</summary>
    public void Dispose()
    {
        GOptimizer.Dispose();
        DOptimizer.Dispose();
    }
}
