namespace Pipeline.Engine.IO;

// TEMPORARY (council branch): lets the Council code compile until the lead's TorchFile.Load lands on main.
// Deleted by the merge of main into this branch.
public static partial class TorchFile
{
    public static object? Load(string path) =>
        throw new NotSupportedException($"TorchFile.Load is not on this branch yet: cannot read {path}");
}
