using Pipeline.Engine.IO;

namespace Pipeline.Engine.Tests.StyleGan1;

// TEMP until TorchFile.Load lands on main: reads a dev conversion of the legacy file.
internal static class DevTorchFile
{
    public static object? Load(string path)
    {
        var caseName = Path.GetFileName(Path.GetDirectoryName(path))!;
        var sd = SafeTensors.Load($"/tmp/sg1dev/{caseName}.safetensors");
        var root = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in sd)
        {
            var parts = k.Split('/');
            var node = root;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                if (!node.TryGetValue(parts[i], out var child)) node[parts[i]] = child = new OrderedDictionary<string, object?>();
                node = (OrderedDictionary<string, object?>)child!;
            }
            node[parts[^1]] = v;
        }
        return root;
    }
}
