using Pipeline.Engine.IO;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>Reads a fixture checkpoint into the tree TorchFile.Load returns.</summary>
internal static class TestCheckpoints
{
    public static object? Load(string path)
    {
        // Interim until TorchFile lands: a dev-converted safetensors copy with flattened "key.sub" names.
        var dev = Environment.GetEnvironmentVariable("SG2_DEV_WEIGHTS");
        if (dev is null) throw new InvalidOperationException("TorchFile.Load is not available yet and SG2_DEV_WEIGHTS is unset");
        var caseName = Path.GetFileName(Path.GetDirectoryName(path)!);
        var flat = SafeTensors.Load(Path.Combine(dev, caseName, Path.GetFileNameWithoutExtension(path) + ".safetensors"));
        var root = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in flat)
        {
            int dot = k.IndexOf('.');
            if (dot < 0) { root[k] = v; continue; }
            var top = k[..dot];
            if (!root.TryGetValue(top, out var node) || node is not OrderedDictionary<string, object?> d)
                root[top] = d = new OrderedDictionary<string, object?>();
            d[k[(dot + 1)..]] = v;
        }
        return root;
    }
}
