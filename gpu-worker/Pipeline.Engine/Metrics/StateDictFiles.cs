using Pipeline.Engine.IO;
using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics;

/// <summary>Reads a flat state_dict from a torch.save file (zip or legacy) or a .safetensors file.</summary>
public static class StateDictFiles
{
    public static OrderedDictionary<string, Tensor> Load(string path)
    {
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return SafeTensors.Load(path);
        var tree = TorchFile.Load(path);
        // torchvision/pytorch-fid/LPIPS files are bare state_dicts; some re-saves wrap them in {"state_dict": ...}.
        return StateDicts.Has(tree, "state_dict") ? StateDicts.Get(tree, "state_dict") : StateDicts.Get(tree);
    }
}
