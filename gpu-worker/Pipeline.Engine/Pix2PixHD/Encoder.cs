using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>
/// The reference's feature Encoder (spec 5.1): Sequential `model` = [reflpad3, conv7, norm, relu, n x down, n x up,
/// reflpad3, conv7, tanh], followed by instance-wise average pooling (5.2).
/// </summary>
public sealed class Encoder : Module<Tensor, Tensor, Tensor>
{
    private readonly Sequential model;

    public int FeatNum { get; }

    public Encoder(int inputNc, int featNum, int nef, int nDownsampling, NormKind norm) : base(nameof(Encoder))
    {
        FeatNum = featNum;
        var layers = new List<Module<Tensor, Tensor>>
        {
            Layers.Pad(3), Layers.Conv(inputNc, nef, 7, 1, 0), Layers.Norm(norm, nef), ReLU(),
        };
        for (int i = 0; i < nDownsampling; i++)
        {
            long mult = 1L << i;
            layers.Add(Layers.Conv(nef * mult, nef * mult * 2, 3, 2, 1));
            layers.Add(Layers.Norm(norm, nef * mult * 2));
            layers.Add(ReLU());
        }
        for (int i = 0; i < nDownsampling; i++)
        {
            long mult = 1L << (nDownsampling - i);
            layers.Add(Layers.Up(nef * mult, nef * mult / 2));
            layers.Add(Layers.Norm(norm, nef * mult / 2));
            layers.Add(ReLU());
        }
        layers.Add(Layers.Pad(3));
        layers.Add(Layers.Conv(nef, featNum, 7, 1, 0));
        layers.Add(Tanh());
        model = Sequential(layers);
        RegisterComponents();
    }

    /// <summary>The conv stack's output before pooling.</summary>
    public Tensor Raw(Tensor image) => model.forward(image);

    /// <summary>E(image, inst): the raw features averaged per sample and per instance id.</summary>
    public override Tensor forward(Tensor image, Tensor inst) => InstancePool(Raw(image), inst);

    /// <summary>
    /// Replaces every channel of <paramref name="raw"/> by its mean over the pixels of each (sample, integer id) of
    /// <paramref name="inst"/>, in one scatter (no per-id host loop). Pixels with non-integer ids, and any part of
    /// <paramref name="raw"/> outside inst's extent, keep their raw value, as in the reference.
    /// </summary>
    public static Tensor InstancePool(Tensor raw, Tensor inst)
    {
        using var scope = NewDisposeScope();
        long b = raw.shape[0], c = raw.shape[1], h = inst.shape[2], w = inst.shape[3];
        if (raw.shape[2] < h || raw.shape[3] < w)
            throw new ArgumentException($"encoder output [{string.Join(", ", raw.shape)}] is smaller than the instance map [{string.Join(", ", inst.shape)}]");
        var region = raw[.., .., ..(int)h, ..(int)w].to(ScalarType.Float32);
        var ids = inst.to(ScalarType.Int64);
        var valid = inst.is_floating_point() ? inst.eq(inst.trunc()) : ones_like(inst, ScalarType.Bool);
        var (_, inverse, counts) = unique(ids.flatten(), sorted: true, return_inverse: true, return_counts: true);
        long u = counts!.shape[0];
        // Group = (sample, id): pooled separately per sample even when ids repeat across the batch.
        var group = (arange(b, ScalarType.Int64, raw.device).view(b, 1) * u + inverse!.view(b, h * w)).view(b, 1, h * w);
        group = where(valid.view(b, 1, h * w), group, full_like(group, b * u)); // invalid pixels go to a dump bucket
        // float64 sums: one bucket may hold a whole 2048x1024 image, where float32 accumulation drifts.
        var flat = region.to(ScalarType.Float64).reshape(b, c, h * w).permute(1, 0, 2).reshape(c, b * h * w);
        var g = group.reshape(1, b * h * w).expand(c, -1);
        var sums = zeros([c, b * u + 1], ScalarType.Float64, raw.device).scatter_add_(1, g, flat);
        var n = zeros([1, b * u + 1], ScalarType.Float64, raw.device).scatter_add_(1, g[..1], ones([1, b * h * w], ScalarType.Float64, raw.device));
        var means = (sums / n.clamp_min(1)).to(ScalarType.Float32);
        var pooled = means.gather(1, g).view(c, b, h, w).permute(1, 0, 2, 3);
        pooled = where(valid.expand(b, c, h, w), pooled, region);
        var result = raw.to(ScalarType.Float32).clone();
        result[.., .., ..(int)h, ..(int)w] = pooled;
        return scope.MoveToOuter(result);
    }
}
