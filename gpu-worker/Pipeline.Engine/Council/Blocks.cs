using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Conv2d = Pipeline.Engine.Nn.Conv2d;
using Linear = Pipeline.Engine.Nn.Linear;
using Layers = Pipeline.Engine.Nn.Layers;

namespace Pipeline.Engine.Council;

/// <summary>
/// Hands out the per-sample AdaIN parameters of one MLP output row block by block, in the decoder's module
/// order: each AdaIN layer of C channels takes [beta(C) | gamma(C)]. Passing this along (instead of assigning
/// weight/bias into the modules as the reference does) keeps the modules stateless and safe to share.
/// </summary>
public sealed class AdaInCursor(Tensor parameters)
{
    private long _offset;

    /// <summary>Numbers consumed so far.</summary>
    public long Offset => _offset;

    /// <summary>The next layer's (beta, gamma), each (B, C, 1, 1).</summary>
    public (Tensor Beta, Tensor Gamma) Take(long channels)
    {
        if (_offset + 2 * channels > parameters.shape[1])
            throw new InvalidOperationException($"AdaIN parameters exhausted: need {_offset + 2 * channels}, MLP gives {parameters.shape[1]}");
        var beta = parameters.narrow(1, _offset, channels);
        var gamma = parameters.narrow(1, _offset + channels, channels);
        _offset += 2 * channels;
        return (beta.unsqueeze(-1).unsqueeze(-1), gamma.unsqueeze(-1).unsqueeze(-1));
    }
}

/// <summary>Activations by their config names.</summary>
internal static class Activation
{
    public static void Check(string name)
    {
        if (name is not ("relu" or "lrelu" or "tanh" or "none"))
            throw new CouncilConfigException($"activation '{name}' is not supported (relu, lrelu, tanh, none)");
    }

    public static Tensor Apply(Tensor x, string name) => name switch
    {
        "relu" => nn.functional.relu(x),
        "lrelu" => nn.functional.leaky_relu(x, 0.2),
        "tanh" => x.tanh(),
        _ => x,
    };
}

/// <summary>Instance norm without affine parameters or running statistics (nothing in the state dict).</summary>
public sealed class InstanceNorm : nn.Module<Tensor, Tensor>
{
    public InstanceNorm() : base("InstanceNorm") { }

    public override Tensor forward(Tensor x) => nn.functional.instance_norm(x, eps: 1e-5);
}

/// <summary>
/// AdaIN: instance statistics always (train and eval), then gamma·x̂ + beta per sample. The
/// running_mean/running_var buffers exist only so checkpoints load; the reference never reads them.
/// </summary>
public sealed class AdaptiveInstanceNorm2d : nn.Module<Tensor, Tensor>
{
    private readonly Tensor running_mean;
    private readonly Tensor running_var;

    public long NumFeatures { get; }

    public AdaptiveInstanceNorm2d(long numFeatures) : base("AdaptiveInstanceNorm2d")
    {
        NumFeatures = numFeatures;
        running_mean = zeros(numFeatures);
        running_var = ones(numFeatures);
        register_buffer(nameof(running_mean), running_mean);
        register_buffer(nameof(running_var), running_var);
    }

    public override Tensor forward(Tensor x) =>
        throw new InvalidOperationException("AdaIN needs its per-sample parameters: call Apply(x, cursor)");

    public Tensor Apply(Tensor x, AdaInCursor cursor)
    {
        var (beta, gamma) = cursor.Take(NumFeatures);
        if (beta.shape[0] != x.shape[0])
            throw new ArgumentException($"AdaIN style batch {beta.shape[0]} differs from the image batch {x.shape[0]}");
        return nn.functional.instance_norm(x, eps: 1e-5) * gamma + beta;
    }
}

/// <summary>A module of the content path that may consume AdaIN parameters.</summary>
public abstract class AdaStage(string name) : nn.Module<Tensor, Tensor>(name)
{
    public override Tensor forward(Tensor x) => Run(x, null);

    public abstract Tensor Run(Tensor x, AdaInCursor? cursor);
}

/// <summary>
/// The reference's Conv2dBlock: pad → conv (bias) → [norm] → [activation]. Norm "in", "adain" or "none".
/// </summary>
public sealed class Conv2dBlock : AdaStage
{
    private readonly nn.Module<Tensor, Tensor>? norm;
    private readonly Conv2d conv;
    private readonly string _activ, _padType;
    private readonly long _pad;

    public Conv2dBlock(long inDim, long outDim, long kernel, long stride, long padding, string normKind, string activ, string padType)
        : base("Conv2dBlock")
    {
        Activation.Check(activ);
        if (padType is not ("zero" or "reflect" or "replicate"))
            throw new CouncilConfigException($"pad_type '{padType}' is not supported (zero, reflect, replicate)");
        _activ = activ;
        _padType = padType;
        _pad = padding;
        norm = normKind switch
        {
            "none" => null,
            "in" => new InstanceNorm(),
            "adain" => new AdaptiveInstanceNorm2d(outDim),
            _ => throw new CouncilConfigException($"norm '{normKind}' is not supported (none, in, adain)"),
        };
        // Zero padding folds into the convolution (same numbers, one kernel less).
        conv = Layers.Conv2d(inDim, outDim, kernel, stride, padType == "zero" ? padding : 0);
        RegisterComponents();
    }

    public bool UsesAdaIn => norm is AdaptiveInstanceNorm2d;

    public long AdaInChannels => norm is AdaptiveInstanceNorm2d a ? a.NumFeatures : 0;

    public override Tensor Run(Tensor x, AdaInCursor? cursor)
    {
        if (_padType != "zero" && _pad > 0)
            x = nn.functional.pad(x, [_pad, _pad, _pad, _pad], _padType == "reflect" ? PaddingModes.Reflect : PaddingModes.Replicate);
        x = conv.forward(x);
        x = norm switch
        {
            null => x,
            AdaptiveInstanceNorm2d a => a.Apply(x, cursor ?? throw new InvalidOperationException("this block uses AdaIN: pass the MLP's parameters")),
            _ => norm.forward(x),
        };
        return Activation.Apply(x, _activ);
    }
}

/// <summary>Residual block: x + [conv3 norm activ, conv3 norm] (no activation after the sum).</summary>
public sealed class ResBlock : AdaStage
{
    private readonly Sequential model;

    public ResBlock(long dim, string normKind, string activ, string padType) : base("ResBlock")
    {
        model = nn.Sequential(
            new Conv2dBlock(dim, dim, 3, 1, 1, normKind, activ, padType),
            new Conv2dBlock(dim, dim, 3, 1, 1, normKind, "none", padType));
        RegisterComponents();
    }

    public IEnumerable<Conv2dBlock> Blocks => model.children().Cast<Conv2dBlock>();

    public override Tensor Run(Tensor x, AdaInCursor? cursor)
    {
        var y = x;
        foreach (var b in Blocks) y = b.Run(y, cursor);
        return x + y;
    }
}

/// <summary>n residual blocks in sequence (state-dict prefix <c>model.r.</c>).</summary>
public sealed class ResBlocks : AdaStage
{
    private readonly Sequential model;

    public ResBlocks(int numBlocks, long dim, string normKind, string activ, string padType) : base("ResBlocks")
    {
        model = nn.Sequential();
        for (int i = 0; i < numBlocks; i++) model.append(new ResBlock(dim, normKind, activ, padType));
        RegisterComponents();
    }

    public IEnumerable<ResBlock> Blocks => model.children().Cast<ResBlock>();

    public override Tensor Run(Tensor x, AdaInCursor? cursor)
    {
        foreach (var b in Blocks) x = b.Run(x, cursor);
        return x;
    }
}

/// <summary>Nearest-neighbour ×2 up-sampling (no weights).</summary>
public sealed class Upsample2x : AdaStage
{
    public Upsample2x() : base("Upsample") { }

    public override Tensor Run(Tensor x, AdaInCursor? cursor) =>
        nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
}

/// <summary>Linear → [activation], the MLP's block (state-dict key <c>fc</c>).</summary>
public sealed class LinearBlock : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc;
    private readonly string _activ;

    public LinearBlock(long inDim, long outDim, string activ) : base("LinearBlock")
    {
        Activation.Check(activ);
        _activ = activ;
        fc = Layers.Linear(inDim, outDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Activation.Apply(fc.forward(x), _activ);
}
