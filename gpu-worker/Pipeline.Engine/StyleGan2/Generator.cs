using Pipeline.Engine.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>Options of <see cref="Generator.Forward"/>, mirroring the reference's keyword arguments.</summary>
public sealed record GenerateOptions
{
    /// <summary>Inputs are w ([B,D]) or W+ ([B,n_latent,D]) instead of z.</summary>
    public bool InputIsLatent { get; init; }
    /// <summary>Style mixing crossover row for two inputs; null draws it uniformly in [1, n_latent-1].</summary>
    public int? InjectIndex { get; init; }
    public double Truncation { get; init; } = 1;
    /// <summary>Required when <see cref="Truncation"/> &lt; 1: [1,D] or [D] (mean_latent or a checkpoint's latent_avg).</summary>
    public Tensor? TruncationLatent { get; init; }
    /// <summary>Explicit per-layer noise ([B or 1,1,r,r], length num_layers); a null entry draws fresh noise.</summary>
    public IReadOnlyList<Tensor?>? Noise { get; init; }
    /// <summary>Without explicit noise: true draws fresh noise (rosinality default), false uses the stored buffers.</summary>
    public bool RandomizeNoise { get; init; } = true;
    /// <summary>Source of the random inject index (reference: Python's random.randint).</summary>
    public Random? MixingRandom { get; init; }
}

/// <summary>
/// rosinality's StyleGAN2 Generator (skip architecture). Module tree and field names mirror model.py, so a
/// checkpoint's <c>g_ema</c> state_dict loads unchanged. Build from weights with <see cref="FromStateDict"/>.
/// </summary>
public sealed class Generator : nn.Module
{
    private readonly Sequential style;
    private readonly ConstantInput input;
    private readonly StyledConv conv1;
    private readonly ToRGB to_rgb1;
    private readonly ModuleList<StyledConv> convs;
    private readonly ModuleList<ToRGB> to_rgbs;
    private readonly NoiseBuffers noises;
    private readonly List<StyledConv> _convs = [];
    private readonly List<ToRGB> _toRgbs = [];

    public Generator(GeneratorConfig config, float[]? blurKernel = null) : base(nameof(Generator))
    {
        Config = config;
        blurKernel ??= Ops.DefaultBlur;
        int d = config.StyleDim;
        var mapping = new List<(string, nn.Module<Tensor, Tensor>)> { ("0", new PixelNorm()) };
        for (int i = 1; i <= config.NMlp; i++)
            mapping.Add((i.ToString(), new EqualLinear(d, d, lrMul: config.LrMlp, fusedLrelu: true)));
        style = nn.Sequential(mapping);

        int c4 = config.ChannelsAt(4);
        input = new ConstantInput(c4);
        conv1 = new StyledConv(c4, c4, 3, d, blurKernel: blurKernel);
        to_rgb1 = new ToRGB(c4, d, upsample: false);
        convs = new ModuleList<StyledConv>();
        to_rgbs = new ModuleList<ToRGB>();
        int prev = c4;
        for (int i = 3; i <= config.LogSize; i++)
        {
            int c = config.ChannelsAt(1 << i);
            convs.Add(new StyledConv(prev, c, 3, d, upsample: true, blurKernel: blurKernel));
            convs.Add(new StyledConv(c, c, 3, d, blurKernel: blurKernel));
            to_rgbs.Add(new ToRGB(c, d, blurKernel: blurKernel));
            prev = c;
        }
        noises = new NoiseBuffers(config.NumLayers);
        _convs.AddRange(convs);
        _toRgbs.AddRange(to_rgbs);
        RegisterComponents();
    }

    public GeneratorConfig Config { get; }
    public ConstantInput Input => input;
    public StyledConv Conv1 => conv1;
    public ToRGB ToRgb1 => to_rgb1;
    public IReadOnlyList<StyledConv> Convs => _convs;
    public IReadOnlyList<ToRGB> ToRgbs => _toRgbs;

    /// <summary>Builds a generator shaped like the state_dict (size, style_dim, n_mlp, channels inferred) and loads it strictly.</summary>
    public static Generator FromStateDict(IReadOnlyDictionary<string, Tensor> stateDict, double lrMlp = 0.01, string? what = null)
    {
        var g = new Generator(GeneratorConfig.FromStateDict(stateDict, lrMlp));
        StateDicts.Load(g, stateDict, strict: true, what: what ?? "StyleGAN2 generator");
        g.eval();
        return g;
    }

    /// <summary>Chooses the fused (grouped-conv) or shared-kernel modulated-conv path for every layer; same values.</summary>
    public void SetFusedModulation(bool fused)
    {
        foreach (var m in modules().OfType<ModulatedConv2d>()) m.Fused = fused;
    }

    /// <summary>The mapping network z [B,D] -> w [B,D] (get_latent).</summary>
    public Tensor Map(Tensor z) => style.forward(z);

    /// <summary>Output of mapping layer k (0 = PixelNorm) for debugging and parity checks.</summary>
    public IReadOnlyList<Tensor> MapWithIntermediates(Tensor z)
    {
        var outs = new List<Tensor>();
        var x = z;
        foreach (var m in style.children().Cast<nn.Module<Tensor, Tensor>>()) { x = m.forward(x); outs.Add(x); }
        return outs;
    }

    /// <summary>mean_latent: style(z).mean(0, keepdim) for the given z draws [n, D].</summary>
    public Tensor MeanLatent(Tensor z) => Map(z).mean([0], keepdim: true);

    /// <summary>mean_latent(n) with n fresh standard-normal draws on the generator's device.</summary>
    public Tensor MeanLatent(int n) => MeanLatent(randn([n, Config.StyleDim], device: Device));

    public Device Device => input.parameters().First().device;

    /// <summary>The stored noise buffers noise_0 .. noise_{num_layers-1} ([1,1,r,r]).</summary>
    public IReadOnlyList<Tensor> NoiseBuffersList => noises.All();

    /// <summary>make_noise: fresh [1,1,r,r] standard-normal noise for every layer.</summary>
    public List<Tensor> MakeNoise(int batch = 1) =>
        Enumerable.Range(0, Config.NumLayers).Select(i => randn([batch, 1, NoiseRes(i), NoiseRes(i)], device: Device)).ToList();

    public static int NoiseRes(int layer) => 1 << ((layer + 5) / 2);

    /// <summary>Reference forward: returns the (unclamped) image and the per-layer latent after truncation/mixing.</summary>
    public (Tensor Image, Tensor Latent) Forward(IReadOnlyList<Tensor> styles, GenerateOptions? options = null)
    {
        options ??= new GenerateOptions();
        var latent = BuildLatent(styles, options);
        IReadOnlyList<Tensor?> noise;
        if (options.Noise is not null) noise = options.Noise;
        else if (options.RandomizeNoise) noise = new Tensor?[Config.NumLayers];
        else noise = NoiseBuffersList;
        return (SynthesizeStyles(StylesFromLatent(latent), noise), latent);
    }

    /// <summary>Steps 1, 3 and 4 of the reference forward: mapping, truncation, W/W+ broadcast and style mixing.</summary>
    public Tensor BuildLatent(IReadOnlyList<Tensor> styles, GenerateOptions options)
    {
        if (styles.Count is < 1 or > 2) throw new ArgumentException("the generator takes one input or two (style mixing)", nameof(styles));
        var s = options.InputIsLatent ? styles.ToList() : styles.Select(Map).ToList();
        if (options.Truncation < 1)
        {
            var tl = options.TruncationLatent ?? throw new ArgumentException("truncation < 1 needs a truncation latent (mean_latent or latent_avg)");
            s = s.Select(x => tl + options.Truncation * (x - tl)).ToList();
        }
        int n = Config.NLatent;
        if (s.Count == 1)
        {
            var x = s[0];
            if (x.dim() >= 3)
            {
                if (x.shape[1] < n) throw new ArgumentException($"W+ input has {x.shape[1]} rows, the generator needs {n}");
                return x;
            }
            return x.unsqueeze(1).repeat(1, n, 1);
        }
        if (s[0].dim() != 2 || s[1].dim() != 2) throw new ArgumentException("style mixing takes two 2-D latents");
        int k = options.InjectIndex ?? (options.MixingRandom ?? Random.Shared).Next(1, n);
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(options), $"inject_index {k} outside [0, {n}]");
        return cat([s[0].unsqueeze(1).repeat(1, k, 1), s[1].unsqueeze(1).repeat(1, n - k, 1)], 1);
    }

    /// <summary>Which W+ row feeds style-list entry k (SOAT layout, spec 10.2).</summary>
    public static int LatentRowOfStyle(int k) => k switch { 0 => 0, 1 => 1, _ => 1 + 2 * ((k - 2) / 3) + (k - 2) % 3 };

    /// <summary>The modulated-conv layer of style-list entry k.</summary>
    public ModulatedConv2d StyleLayer(int k) => k switch
    {
        0 => conv1.Conv,
        1 => to_rgb1.Conv,
        _ => ((k - 2) % 3) switch
        {
            0 => convs[2 * ((k - 2) / 3)].Conv,
            1 => convs[2 * ((k - 2) / 3) + 1].Conv,
            _ => to_rgbs[(k - 2) / 3].Conv,
        },
    };

    /// <summary>SOAT style space: modulation_k(latent[:, row_k]) for every layer, [B, in_ch(k)] each.</summary>
    public List<Tensor> StylesFromLatent(Tensor latent) =>
        Enumerable.Range(0, Config.NumStyles).Select(k => StyleLayer(k).Style(latent.select(1, LatentRowOfStyle(k)))).ToList();

    /// <summary>Synthesis network driven by a style list (unclamped); a null noise entry draws fresh noise.</summary>
    public Tensor SynthesizeStyles(IReadOnlyList<Tensor> s, IReadOnlyList<Tensor?> noise)
    {
        if (s.Count != Config.NumStyles) throw new ArgumentException($"expected {Config.NumStyles} style entries, got {s.Count}");
        if (noise.Count < Config.NumLayers) throw new ArgumentException($"expected {Config.NumLayers} noise entries, got {noise.Count}");
        var o = input.forward(s[0].shape[0]);
        o = conv1.ForwardStyle(o, s[0], noise[0]);
        var skip = to_rgb1.ForwardStyle(o, s[1], null);
        for (int j = 0; j < to_rgbs.Count; j++)
        {
            o = convs[2 * j].ForwardStyle(o, s[2 + 3 * j], noise[1 + 2 * j]);
            o = convs[2 * j + 1].ForwardStyle(o, s[3 + 3 * j], noise[2 + 2 * j]);
            skip = to_rgbs[j].ForwardStyle(o, s[4 + 3 * j], skip);
        }
        return skip;
    }

    /// <summary>Module holding buffers noise_0 .. noise_{n-1}.</summary>
    private sealed class NoiseBuffers : nn.Module
    {
        private readonly int _count;

        public NoiseBuffers(int count) : base("NoiseBuffers")
        {
            _count = count;
            for (int i = 0; i < count; i++)
                register_buffer($"noise_{i}", randn(1, 1, NoiseRes(i), NoiseRes(i)));
        }

        public IReadOnlyList<Tensor> All()
        {
            var d = named_buffers(recurse: false).ToDictionary(kv => kv.name, kv => kv.buffer);
            return Enumerable.Range(0, _count).Select(i => d[$"noise_{i}"]).ToList();
        }
    }
}
