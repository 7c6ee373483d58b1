using Pipeline.Imaging.Labels;
using static TorchSharp.torch;

namespace Pipeline.Engine.Pix2PixHD;


/// <summary>The reference's `encode_input` / `get_edges` (spec section 2), batched and device-agnostic.</summary>
public static class InputEncoding
{
    /// <summary>
    /// One-hot map [B, labelNc, H, W] (float32) from class ids [B, 1, H, W] (any dtype; truncated toward zero as the
    /// reference's `.long()` does). Ids outside 0..labelNc-1 crash the reference; here they raise
    /// <see cref="InvalidLabelMapException"/> with the offending range.
    /// </summary>
    public static Tensor OneHot(Tensor label, int labelNc)
    {
        if (label.dim() != 4 || label.shape[1] != 1)
            throw new InvalidLabelMapException(LabelMapRejection.Malformed, $"label map must be [B, 1, H, W], got [{string.Join(", ", label.shape)}]");
        using var scope = NewDisposeScope();
        var ids = label.to(ScalarType.Int64);
        long min = ids.min().item<long>(), max = ids.max().item<long>();
        if (min < 0 || max >= labelNc)
            throw new InvalidLabelMapException(LabelMapRejection.IdOutOfRange, $"label map holds class ids {min}..{max}, but the model knows only 0..{labelNc - 1} (label_nc {labelNc})");
        var oneHot = zeros([label.shape[0], labelNc, label.shape[2], label.shape[3]], ScalarType.Float32, label.device)
            .scatter_(1, ids, ones_like(ids, ScalarType.Float32));
        return scope.MoveToOuter(oneHot);
    }

    /// <summary>
    /// Instance-boundary map [B, 1, H, W] (float32 0/1): a pixel is 1 when a 4-neighbour inside the image has another
    /// instance id; both sides of a boundary are marked; the comparison is on the raw ids.
    /// </summary>
    public static Tensor Edges(Tensor inst)
    {
        using var scope = NewDisposeScope();
        var edge = zeros(inst.shape, ScalarType.Bool, inst.device);
        long h = inst.shape[2], w = inst.shape[3];
        if (w > 1)
        {
            var dx = inst[.., .., .., 1..].ne(inst[.., .., .., ..^1]);
            edge[.., .., .., 1..].logical_or_(dx);
            edge[.., .., .., ..^1].logical_or_(dx);
        }
        if (h > 1)
        {
            var dy = inst[.., .., 1.., ..].ne(inst[.., .., ..^1, ..]);
            edge[.., .., 1.., ..].logical_or_(dy);
            edge[.., .., ..^1, ..].logical_or_(dy);
        }
        return scope.MoveToOuter(edge.to(ScalarType.Float32));
    }

    /// <summary>
    /// `input_label`: one-hot classes (or, with label_nc 0, the image-space label image as is), then the edge channel
    /// unless no_instance. <paramref name="inst"/> may be null only with no_instance.
    /// </summary>
    public static Tensor EncodeLabel(Tensor label, Tensor? inst, int labelNc, bool noInstance)
    {
        using var scope = NewDisposeScope();
        var baseMap = labelNc == 0 ? label.to(ScalarType.Float32) : OneHot(label, labelNc);
        if (noInstance) return scope.MoveToOuter(baseMap.alias());
        if (inst is null) throw new ArgumentException("this model uses instance maps (no_instance is off): pass an instance map, or a label map as its own instance map", nameof(inst));
        if (inst.shape[0] != label.shape[0] || inst.shape[2] != label.shape[2] || inst.shape[3] != label.shape[3])
            throw new ArgumentException($"instance map [{string.Join(", ", inst.shape)}] does not match the label map [{string.Join(", ", label.shape)}]");
        return scope.MoveToOuter(cat([baseMap, Edges(inst)], 1));
    }

    /// <summary>G's input: input_label, then the feature map when the model uses encoded features.</summary>
    public static Tensor GeneratorInput(Tensor inputLabel, Tensor? featMap) =>
        featMap is null ? inputLabel.alias() : cat([inputLabel, featMap.to(inputLabel.dtype)], 1);
}
