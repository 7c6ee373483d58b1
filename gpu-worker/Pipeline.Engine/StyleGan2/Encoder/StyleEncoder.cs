using Pipeline.Engine.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using Conv2d = Pipeline.Engine.Nn.Conv2d;
using Linear = Pipeline.Engine.Nn.Linear;
using Layers = Pipeline.Engine.Nn.Layers;

namespace Pipeline.Engine.StyleGan2.Encoder;

/// <summary>
/// Image [N, 3, S, S] in [-1, 1] to W+ [N, n_latent, D] in one forward pass (pSp/e4e-style): a strided residual
/// backbone, a three-level feature pyramid (4x4, 8x8, 16x16), and one small head per W+ row that predicts an
/// offset added to <c>latent_avg</c> (the generator's mean latent, stored with the weights so the encoder is
/// self-contained). state_dict keys, stable across versions:
/// <c>latent_avg</c> [n_latent, D]; <c>stem.weight|bias</c>; <c>stages.{i}.conv1|conv2.weight|bias</c>,
/// <c>stages.{i}.skip.weight</c>; <c>lateral.{0,1,2}.weight|bias</c> (0 = 4x4); <c>heads.{row}.convs.{2k}.weight|bias</c>
/// (one stride-2 conv per pyramid level above 4x4), <c>heads.{row}.linear.weight|bias</c>.
/// No batch norm, so train and eval mode compute the same thing and a batch of one is exact.
/// </summary>
public sealed class StyleEncoder : nn.Module<Tensor, Tensor>
{
    private readonly Tensor latent_avg;
    private readonly Conv2d stem;
    private readonly ModuleList<ResidualDown> stages;
    private readonly ModuleList<Conv2d> lateral;
    private readonly ModuleList<StyleHead> heads;

    public StyleEncoder(StyleEncoderConfig config, Tensor? latentAvg = null) : base(nameof(StyleEncoder))
    {
        Config = config;
        latent_avg = (latentAvg is null ? zeros(config.NLatent, config.StyleDim)
                : latentAvg.detach().to(float32).cpu().reshape(-1, config.StyleDim).expand(config.NLatent, config.StyleDim).clone())
            .DetachFromDisposeScope();
        register_buffer("latent_avg", latent_avg);
        stem = Layers.Conv2d(3, config.StemChannels, 3, padding: 1);
        stages = new ModuleList<ResidualDown>();
        int prev = config.StemChannels;
        foreach (var c in config.StageChannels) { stages.Add(new ResidualDown(prev, c)); prev = c; }
        lateral = new ModuleList<Conv2d>();
        for (int level = 0; level < 3; level++)
            lateral.Add(Layers.Conv2d(config.StageChannels[config.Stages - 1 - level], config.PyramidChannels, 1));
        heads = new ModuleList<StyleHead>();
        for (int r = 0; r < config.NLatent; r++)
            heads.Add(new StyleHead(config.PyramidChannels, config.LevelOfRow(r), config.StyleDim));
        RegisterComponents();
    }

    public StyleEncoderConfig Config { get; }

    /// <summary>The W+ that a zero offset means (the generator's mean latent per row).</summary>
    public Tensor LatentAvg => latent_avg;

    /// <summary>Builds an encoder shaped like the state_dict and loads it strictly (every key, no extras).</summary>
    public static StyleEncoder FromStateDict(IReadOnlyDictionary<string, Tensor> sd, string? what = null)
    {
        var e = new StyleEncoder(StyleEncoderConfig.FromStateDict(sd));
        StateDicts.Load(e, sd, strict: true, what: what ?? "StyleEncoder");
        e.eval();
        return e;
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        if (x.shape[2] != Config.Size || x.shape[3] != Config.Size)
            x = F.interpolate(x, [Config.Size, Config.Size], mode: InterpolationMode.Area);
        var h = F.leaky_relu(stem.forward(x), 0.2);
        var feats = new List<Tensor>();
        foreach (var s in stages) { h = s.forward(h); feats.Add(h); }
        // Top-down pyramid: each finer level adds the upsampled coarser one, so fine rows also see global context.
        var p = new Tensor[3];
        p[0] = lateral[0].forward(feats[^1]);
        for (int level = 1; level < 3; level++)
            p[level] = lateral[level].forward(feats[^(level + 1)]) + F.interpolate(p[level - 1], scale_factor: [2, 2], mode: InterpolationMode.Nearest);
        var rows = new Tensor[Config.NLatent];
        for (int r = 0; r < Config.NLatent; r++) rows[r] = heads[r].forward(p[Config.LevelOfRow(r)]);
        return scope.MoveToOuter(stack(rows, 1) + latent_avg.unsqueeze(0));
    }

    /// <summary>Stride-2 residual block: conv-lrelu-conv plus a 1x1 strided skip, scaled to keep unit variance.</summary>
    private sealed class ResidualDown : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1, conv2, skip;

        public ResidualDown(int cin, int cout) : base(nameof(ResidualDown))
        {
            conv1 = Layers.Conv2d(cin, cout, 3, stride: 2, padding: 1);
            conv2 = Layers.Conv2d(cout, cout, 3, padding: 1);
            skip = Layers.Conv2d(cin, cout, 1, stride: 2, bias: false);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var h = conv2.forward(F.leaky_relu(conv1.forward(x), 0.2));
            return F.leaky_relu((h + skip.forward(x)) * (1 / Math.Sqrt(2)), 0.2);
        }
    }

    /// <summary>map2style: stride-2 convs down to 4x4, then one linear layer from the flattened 4x4 map to a W row.</summary>
    private sealed class StyleHead : nn.Module<Tensor, Tensor>
    {
        private readonly Sequential convs;
        private readonly Linear linear;

        public StyleHead(int channels, int level, int styleDim) : base(nameof(StyleHead))
        {
            var layers = new List<(string, nn.Module<Tensor, Tensor>)>();
            for (int k = 0; k < level; k++)
            {
                layers.Add(((2 * k).ToString(System.Globalization.CultureInfo.InvariantCulture), Layers.Conv2d(channels, channels, 3, stride: 2, padding: 1)));
                layers.Add(((2 * k + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), nn.LeakyReLU(0.2)));
            }
            convs = nn.Sequential(layers);
            linear = Layers.Linear(channels * 16, styleDim);
            // Start near a zero offset (the mean latent): a random initial W+ would put the generator far off its manifold.
            using (no_grad())
            {
                linear.weight!.mul_(0.1);
                linear.bias!.zero_();
            }
            RegisterComponents();
        }

        public override Tensor forward(Tensor x) => linear.forward(convs.forward(x).flatten(1));
    }
}
