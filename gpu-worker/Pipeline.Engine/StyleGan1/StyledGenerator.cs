using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>Arguments of <see cref="StyledGenerator.Forward"/> beyond the z codes (spec section 4.2).</summary>
public sealed record StyleGan1ForwardOptions
{
    /// <summary>Output resolution 4 * 2^Step.</summary>
    public int Step { get; init; }

    /// <summary>Progressive fade-in; only 0 &lt;= Alpha &lt; 1 blends (the default -1 and 1 give the plain output).</summary>
    public double Alpha { get; init; } = -1;

    /// <summary>One map per level 0..Step ([B|1, 1, res, res]); null draws fresh noise (from <see cref="NoiseGenerator"/> when set).</summary>
    public IReadOnlyList<Tensor>? Noise { get; init; }

    /// <summary>Generator for fresh noise; null uses torch's global generator like the reference.</summary>
    public torch.Generator? NoiseGenerator { get; init; }

    /// <summary>Truncation centre [1, D]; null disables truncation.</summary>
    public Tensor? MeanStyle { get; init; }

    /// <summary>Truncation psi: w' = mean + StyleWeight * (w - mean). Defaults to 0 like the reference (collapses to the mean).</summary>
    public double StyleWeight { get; init; }

    /// <summary>Levels fed by the second code; null = random crossover mode (the reference's (-1, -1)).</summary>
    public MixingRange? MixingRange { get; init; }

    /// <summary>Crossover levels for the random-crossover mode (n - 1 values); null draws them from <see cref="Random"/>.</summary>
    public IReadOnlyList<int>? InjectIndex { get; init; }

    public Random? Random { get; init; }
}

/// <summary>
/// StyledGenerator(code_dim, n_mlp): the object saved as `generator` / `g_running` — a synthesis network
/// (`generator.*`) and a mapping network (`style.*` = PixelNorm then n_mlp x [EqualLinear, lrelu]).
/// </summary>
public sealed class StyledGenerator : nn.Module
{
    private readonly Generator generator;
    private readonly Sequential style;

    public StyleGan1GeneratorConfig Config { get; }

    public StyledGenerator(StyleGan1GeneratorConfig? config = null) : base(nameof(StyledGenerator))
    {
        Config = config ?? new StyleGan1GeneratorConfig();
        generator = new Generator(Config);
        var layers = new List<(string, nn.Module<Tensor, Tensor>)> { ("0", new PixelNorm()) };
        for (int k = 0; k < Config.NMlp; k++)
        {
            layers.Add(((2 * k + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), new EqualLinear(Config.CodeDim, Config.CodeDim)));
            layers.Add(((2 * k + 2).ToString(System.Globalization.CultureInfo.InvariantCulture), new LRelu()));
        }
        style = nn.Sequential(layers);
        RegisterComponents();
    }

    public Generator Synthesis => generator;

    /// <summary>The mapping network z [B, D] -> w [B, D]; <paramref name="tap"/> sees each layer's output as "style.k".</summary>
    public Tensor Map(Tensor z, Action<string, Tensor>? tap = null)
    {
        if (tap is null) return style.forward(z);
        var x = z;
        int k = 0;
        foreach (var layer in style.children())
        {
            x = ((nn.Module<Tensor, Tensor>)layer).forward(x);
            tap($"style.{k++}", x);
        }
        return x;
    }

    /// <summary>G.mean_style(z) = mean over the batch of style(z), [1, D].</summary>
    public Tensor MeanStyle(Tensor z) => Map(z).mean([0], keepdim: true);

    /// <summary>
    /// generate.py's get_mean_style: the batch means of each chunk summed in order and divided by the number of
    /// chunks (generate.py uses 10 chunks of randn(1024, D)).
    /// </summary>
    public Tensor GetMeanStyle(IEnumerable<Tensor> zChunks)
    {
        using var _ = no_grad();
        Tensor? sum = null;
        int n = 0;
        foreach (var z in zChunks)
        {
            var m = MeanStyle(z);
            sum = sum is null ? m : sum + m;
            n++;
        }
        if (sum is null) throw new ArgumentException("no z chunks given", nameof(zChunks));
        return sum / n;
    }

    /// <summary>get_mean_style with <paramref name="chunks"/> x randn(<paramref name="chunkSize"/>, D) from <paramref name="gen"/>.</summary>
    public Tensor GetMeanStyle(torch.Generator? gen = null, int chunks = 10, int chunkSize = 1024, Device? device = null)
    {
        device ??= Device;
        return GetMeanStyle(Enumerable.Range(0, chunks).Select(_ => randn(chunkSize, Config.CodeDim, generator: gen).to(device)));
    }

    /// <summary>Fresh noise for levels 0..step, drawn on the CPU from <paramref name="gen"/> (device-independent values) then moved.</summary>
    public Tensor[] RandomNoise(long batch, int step, torch.Generator? gen = null, Device? device = null)
    {
        device ??= Device;
        var noise = new Tensor[step + 1];
        for (int i = 0; i <= step; i++)
        {
            long res = 4L << i;
            noise[i] = randn(batch, 1, res, res, generator: gen).to(device);
        }
        return noise;
    }

    /// <summary>
    /// G(input, noise, step, alpha, mean_style, style_weight, mixing_range): maps every z, truncates all styles
    /// towards MeanStyle when given, then runs the synthesis network with the style schedule.
    /// </summary>
    public Tensor Forward(IReadOnlyList<Tensor> z, StyleGan1ForwardOptions options)
    {
        if (z.Count == 0) throw new ArgumentException("at least one z tensor is required", nameof(z));
        generator.ValidateStep(options.Step);
        var styles = z.Select(zi => Map(zi)).ToList();
        var noise = options.Noise ?? RandomNoise(z[0].shape[0], options.Step, options.NoiseGenerator, z[0].device);
        if (options.MeanStyle is { } mean)
            styles = styles.Select(w => Truncate(w, mean, options.StyleWeight)).ToList();
        return generator.Forward(styles, noise, options.Step, options.Alpha, options.MixingRange, options.InjectIndex, options.Random);
    }

    /// <summary>Convenience overload for one z tensor.</summary>
    public Tensor Forward(Tensor z, StyleGan1ForwardOptions options) => Forward([z], options);

    /// <summary>The truncation trick: mean + psi * (w - mean).</summary>
    public static Tensor Truncate(Tensor w, Tensor meanStyle, double psi) => meanStyle + psi * (w - meanStyle);

    /// <summary>The device of the parameters.</summary>
    public Device Device => parameters().First().device;
}
