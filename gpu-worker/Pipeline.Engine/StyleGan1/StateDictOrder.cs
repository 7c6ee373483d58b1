using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>
/// PyTorch's state_dict order (per module: its parameters, then its buffers, then its children, depth first).
/// TorchSharp's state_dict() lists all parameters before all buffers; the order matters where indices do (Adam state
/// is keyed by parameter position) and for re-saved checkpoints that should list like the reference's.
/// </summary>
public static class StateDictOrder
{
    public static List<(string Name, Tensor Tensor, bool IsBuffer)> Entries(nn.Module module)
    {
        var result = new List<(string, Tensor, bool)>();
        Walk(module, "", result);
        return result;
    }

    private static void Walk(nn.Module m, string prefix, List<(string, Tensor, bool)> into)
    {
        foreach (var (name, p) in m.named_parameters(recurse: false)) into.Add((prefix + name, p, false));
        foreach (var (name, b) in m.named_buffers(recurse: false)) into.Add((prefix + name, b, true));
        foreach (var (name, child) in m.named_children()) Walk(child, prefix + name + ".", into);
    }
}
