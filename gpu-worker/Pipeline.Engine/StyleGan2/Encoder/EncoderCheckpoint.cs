using Pipeline.Engine.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2.Encoder;

/// <summary>
/// An encoder file: torch.save zip with <c>{"encoder": state_dict, "args": {...}, "iteration": n}</c>, so
/// <c>torch.load(f)["encoder"]</c> works in Python too. The model folder convention is
/// <c>&lt;generator&gt;.encoder.pt</c> next to <c>&lt;generator&gt;.pt</c> (<see cref="PathFor"/>).
/// </summary>
public static class EncoderCheckpoint
{
    /// <summary>Where the encoder of generator checkpoint <paramref name="generatorPath"/> lives: G.pt -> G.encoder.pt.</summary>
    public static string PathFor(string generatorPath) =>
        Path.Combine(Path.GetDirectoryName(generatorPath) ?? "", Path.GetFileNameWithoutExtension(generatorPath) + ".encoder.pt");

    public static void Save(string path, StyleEncoder encoder, long iteration, IReadOnlyDictionary<string, object?>? args = null)
    {
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in encoder.state_dict()) sd[k] = v.detach().cpu().contiguous();
        var tree = new OrderedDictionary<string, object?>
        {
            ["encoder"] = sd,
            ["args"] = args?.ToDictionary(kv => kv.Key, kv => kv.Value) ?? new Dictionary<string, object?>(),
            ["iteration"] = iteration,
        };
        TorchFile.Save(path, tree);
    }

    /// <summary>Loads strictly; throws FileNotFoundException / InvalidDataException saying what is wrong.</summary>
    public static (StyleEncoder Encoder, long Iteration) Load(string path, Device? device = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"encoder checkpoint not found: {path}", path);
        var tree = TorchFile.Load(path);
        var sd = StateDicts.Has(tree, "encoder") ? StateDicts.Get(tree, "encoder") : StateDicts.Get(tree);
        var e = StyleEncoder.FromStateDict(sd, $"{path} (StyleEncoder)");
        if (device is not null) e.to(device);
        long it = tree is OrderedDictionary<string, object?> d && d.TryGetValue("iteration", out var v) && v is long l ? l : 0;
        return (e, it);
    }
}
