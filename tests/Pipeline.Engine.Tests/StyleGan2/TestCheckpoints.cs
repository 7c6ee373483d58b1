using Pipeline.Engine.IO;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>Reads a fixture checkpoint into the tree TorchFile.Load returns (cached per path for the test run).</summary>
internal static class TestCheckpoints
{
    public static object? Load(string path) => TorchFile.Load(path);
}
