using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>How a discriminator block reduces resolution.</summary>
public enum ConvBlockKind
{
    /// <summary>conv2 = [Blur, FusedDownsample, lrelu] (keys conv2.0.*, conv2.1.weight/bias).</summary>
    FusedDownsample,
    /// <summary>conv2 = [Blur, EqualConv2d 3x3, AvgPool 2x2, lrelu] (keys conv2.0.*, conv2.1.conv.*).</summary>
    Downsample,
    /// <summary>conv2 = [EqualConv2d k2 pad2, lrelu]: the final 4x4 -> 1x1 block (keys conv2.0.conv.*).</summary>
    Final,
}

/// <summary>A discriminator block: conv1 = [EqualConv2d(cin, cout, k1, p1), lrelu], conv2 per <see cref="ConvBlockKind"/>.</summary>
public sealed class ConvBlock : nn.Module<Tensor, Tensor>
{
    private readonly Sequential conv1;
    private readonly Sequential conv2;

    public ConvBlock(long cin, long cout, ConvBlockKind kind, long kernel1 = 3, long pad1 = 1, long kernel2 = 4, long pad2 = 0)
        : base(nameof(ConvBlock))
    {
        conv1 = nn.Sequential(("0", new EqualConv2d(cin, cout, kernel1, pad1)), ("1", new LRelu()));
        conv2 = kind switch
        {
            ConvBlockKind.FusedDownsample => nn.Sequential(("0", new Blur(cout)), ("1", new FusedDownsample(cout, cout, 3, 1)), ("2", new LRelu())),
            ConvBlockKind.Downsample => nn.Sequential(("0", new Blur(cout)), ("1", new EqualConv2d(cout, cout, 3, 1)), ("2", new AvgPool2x()), ("3", new LRelu())),
            ConvBlockKind.Final => nn.Sequential(("0", new EqualConv2d(cout, cout, kernel2, pad2)), ("1", new LRelu())),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => conv2.forward(conv1.forward(x));
}

/// <summary>
/// The v1 Discriminator (spec section 7): block j consumes 4 * 2^(last - j) px; the 4x4 stage appends the minibatch
/// standard deviation (one scalar over the whole batch) as an extra channel. Scores are [B, 1], no sigmoid.
/// </summary>
public sealed class Discriminator : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<ConvBlock> progression;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> from_rgb;
    private readonly EqualLinear linear;

    public StyleGan1DiscriminatorConfig Config { get; }

    public Discriminator(StyleGan1DiscriminatorConfig? config = null) : base(nameof(Discriminator))
    {
        Config = config ?? new StyleGan1DiscriminatorConfig();
        var w = Config.FromRgbChannels;
        int n = w.Count;
        progression = new ModuleList<ConvBlock>();
        from_rgb = new ModuleList<nn.Module<Tensor, Tensor>>();
        for (int j = 0; j < n; j++)
        {
            if (j == n - 1) progression.Add(new ConvBlock(w[j] + 1, w[j], ConvBlockKind.Final, 3, 1, 4, 0));
            else progression.Add(new ConvBlock(w[j], w[j + 1], Config.FusedBlocks.Contains(j) ? ConvBlockKind.FusedDownsample : ConvBlockKind.Downsample));
            var rgb = new EqualConv2d(3, w[j], 1, 0);
            from_rgb.Add(Config.FromRgbActivate ? nn.Sequential(("0", rgb), ("1", new LRelu())) : rgb);
        }
        linear = new EqualLinear(w[n - 1], 1);
        RegisterComponents();
    }

    public int MaxStep => Config.Blocks - 1;

    public override Tensor forward(Tensor x) => Score(x, MaxStep);

    /// <summary>D(x, step, alpha): x is [B, 3, 4*2^step, 4*2^step]; fade-in only for 0 &lt;= alpha &lt; 1 and step &gt; 0.</summary>
    public Tensor Score(Tensor x, int step, double alpha = -1, Action<string, Tensor>? tap = null)
    {
        if (step < 0 || step > MaxStep)
            throw new ArgumentOutOfRangeException(nameof(step), step, $"step must be 0..{MaxStep}");
        long expected = 4L << step;
        if (x.dim() != 4 || x.shape[2] != expected || x.shape[3] != expected)
            throw new ArgumentException($"step {step} expects images [B, 3, {expected}, {expected}], got [{string.Join(", ", x.shape)}]", nameof(x));
        int last = MaxStep;
        Tensor h = x;
        for (int i = step; i >= 0; i--)
        {
            int j = last - i;
            if (i == step)
            {
                h = from_rgb[j].forward(x);
                tap?.Invoke($"from_rgb.{j}", h);
            }
            if (i == 0)
            {
                var std = (h.var([0L], unbiased: false) + 1e-8).sqrt();
                var m = std.mean().expand(h.shape[0], 1, h.shape[2], h.shape[3]);
                h = cat([h, m], 1);
                tap?.Invoke($"progression.{j}.input", h);
            }
            h = progression[j].forward(h);
            tap?.Invoke($"progression.{j}", h);
            if (i > 0 && i == step && alpha >= 0 && alpha < 1)
            {
                var skip = from_rgb[j + 1].forward(nn.functional.avg_pool2d(x, 2));
                tap?.Invoke($"from_rgb.{j + 1}", skip);
                h = (1 - alpha) * skip + alpha * h;
            }
        }
        return linear.forward(h.flatten(1));
    }
}
