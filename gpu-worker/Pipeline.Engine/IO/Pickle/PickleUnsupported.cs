namespace Pipeline.Engine.IO;

/// <summary>Placeholder for an object of a class the restricted unpickler does not build (e.g. argparse.Namespace).</summary>
public sealed record PickleUnsupported(string Global)
{
    public override string ToString() => $"<unsupported {Global}>";
}
