using static TorchSharp.torch;

namespace Pipeline.Engine.IO;

/// <summary>
/// Reads files written by torch.save, both the zip format (PyTorch >= 1.6) and the legacy format, with a
/// restricted unpickler that never executes anything.
/// The result is a tree: dicts are OrderedDictionary&lt;string, object?&gt; (non-string keys are stringified),
/// lists List&lt;object?&gt;, tuples object?[], str string, int long (or BigInteger), float double, bool, None null,
/// tensors CPU <see cref="Tensor"/>s of their stored dtype, and unsupported objects <see cref="PickleUnsupported"/>.
/// </summary>
public static partial class TorchFile
{
}

/// <summary>Placeholder for an object of a class the restricted unpickler does not build (e.g. argparse.Namespace).</summary>
public sealed record PickleUnsupported(string Global)
{
    public override string ToString() => $"<unsupported {Global}>";
}
