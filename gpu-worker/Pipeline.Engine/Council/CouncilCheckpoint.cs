using System.Text.RegularExpressions;
using Pipeline.Engine.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Council;

/// <summary>
/// Council-GAN checkpoint files as <c>Council_Trainer.save</c> writes them: <c>&lt;dir&gt;/b2a_gen_&lt;i&gt;_&lt;8-digit step&gt;.pt</c>
/// (also <c>_dis_</c> and <c>_dis_council_</c>), each a pickled <c>{'b2a': state_dict}</c> in the zip or the legacy
/// torch.save format. Also infers the architecture from tensor shapes and checks it against the yaml.
/// </summary>
public static partial class CouncilCheckpoint
{
    [GeneratedRegex(@"^(a2b|b2a)_gen_(\d+)_(\d{8})\.pt$")]
    private static partial Regex GenFileName();

    /// <summary>
    /// The generator files of a council, resolved like the reference's test_on_folder.py: a single member file
    /// (its name contains "gen_"), or a prefix "&lt;dir&gt;/&lt;8-digit step&gt;" (members 0..n−1), or, for convenience, a
    /// directory (its latest step). <paramref name="councilSize"/> null: every consecutive member file present.
    /// </summary>
    public static IReadOnlyList<string> ResolveGeneratorFiles(string checkpoint, int? councilSize = null, string direction = "b2a")
    {
        if (File.Exists(checkpoint))
        {
            if (!Path.GetFileName(checkpoint).Contains("gen_", StringComparison.Ordinal))
                throw new ArgumentException($"{checkpoint} is not a generator checkpoint (expected a name like {direction}_gen_0_01000000.pt)");
            return [Path.GetFullPath(checkpoint)];
        }
        string dir, step;
        if (Directory.Exists(checkpoint))
        {
            dir = checkpoint;
            var steps = Directory.EnumerateFiles(dir).Select(f => GenFileName().Match(Path.GetFileName(f)))
                .Where(m => m.Success && m.Groups[1].Value == direction).Select(m => m.Groups[3].Value).Distinct().Order(StringComparer.Ordinal).ToList();
            if (steps.Count == 0) throw new FileNotFoundException($"no {direction}_gen_<i>_<step>.pt files in {dir}");
            step = steps[^1];
        }
        else
        {
            dir = Path.GetDirectoryName(Path.GetFullPath(checkpoint)) ?? ".";
            step = Path.GetFileName(checkpoint);
            if (step.Length != 8 || !step.All(char.IsAsciiDigit))
                throw new FileNotFoundException($"checkpoint '{checkpoint}' is neither a file, a directory, nor a '<dir>/<8-digit step>' prefix such as models/01000000");
        }
        string Member(int i) => Path.GetFullPath(Path.Combine(dir, $"{direction}_gen_{i}_{step}.pt"));
        var files = new List<string>();
        for (int i = 0; councilSize is null ? File.Exists(Member(i)) : i < councilSize; i++)
        {
            if (!File.Exists(Member(i)))
                throw new FileNotFoundException($"council member {i} is missing: {Member(i)} (the config says council_size = {councilSize})", Member(i));
            files.Add(Member(i));
        }
        if (files.Count == 0) throw new FileNotFoundException($"no council member files {Member(0)}", Member(0));
        return files;
    }

    /// <summary>The companion file of a member generator (kind "dis" or "dis_council").</summary>
    public static string CompanionFile(string generatorFile, string kind)
    {
        var name = Path.GetFileName(generatorFile);
        int at = name.IndexOf("_gen_", StringComparison.Ordinal);
        if (at < 0) throw new ArgumentException($"{generatorFile} is not named like <dir>_gen_<i>_<step>.pt");
        return Path.Combine(Path.GetDirectoryName(generatorFile) ?? ".", name[..at] + "_" + kind + "_" + name[(at + 5)..]);
    }

    /// <summary>Reads one network's state dict from a checkpoint file: the value under the direction key.</summary>
    public static OrderedDictionary<string, Tensor> LoadStateDict(string path, string direction = "b2a")
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint not found: {path}", path);
        object? root;
        try
        {
            root = TorchFile.Load(path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidDataException($"{path}: not a readable torch.save file ({e.Message})", e);
        }
        if (StateDicts.Has(root, direction)) return StateDicts.Get(root, direction);
        var other = direction == "b2a" ? "a2b" : "b2a";
        if (StateDicts.Has(root, other))
            throw new InvalidDataException($"{path} holds the '{other}' networks, not '{direction}': pass the matching direction (or config with do_{direction}: True)");
        var keys = root is OrderedDictionary<string, object?> d ? string.Join(", ", d.Keys.Take(8)) : root?.GetType().Name ?? "None";
        throw new InvalidDataException($"{path} is not a Council-GAN checkpoint: expected a dict with the key '{direction}', found {keys}");
    }

    private static long[] Shape(IReadOnlyDictionary<string, Tensor> sd, string key, string what) =>
        sd.TryGetValue(key, out var t) ? t.shape : throw new InvalidDataException($"{what} lacks '{key}': not a Council-GAN network of the expected kind");

    /// <summary>Generator architecture read from tensor shapes (activation and padding cannot be seen: relu/zero).</summary>
    public static GenOptions InferGenerator(IReadOnlyDictionary<string, Tensor> sd, string what = "generator checkpoint")
    {
        var first = Shape(sd, "enc_content.model.0.conv.weight", what);
        int dim = (int)first[0], inputDim = (int)first[1];
        int n = 0;
        while (sd.ContainsKey($"enc_content.model.{n + 1}.conv.weight")) n++;
        int nRes = 0;
        while (sd.ContainsKey($"enc_content.model.{n + 1}.model.{nRes}.model.0.conv.weight")) nRes++;
        var fc0 = Shape(sd, "mlp.model.0.fc.weight", what);
        var head = Shape(sd, $"dec.model.{3 * n + 3}.conv.weight", what);
        if (head[0] % (inputDim + 1) != 0)
            throw new InvalidDataException($"{what}: decoder head has {head[0]} channels, not a multiple of {inputDim + 1} (M candidates of {inputDim} channels + M masks)");
        return new GenOptions(dim, (int)fc0[0], (int)fc0[1], n, nRes, NumMasks: (int)(head[0] / (inputDim + 1)), InputDim: inputDim);
    }

    /// <summary>Discriminator architecture read from tensor shapes (<paramref name="council"/>: \hat D's layout).</summary>
    public static DisOptions InferDiscriminator(IReadOnlyDictionary<string, Tensor> sd, bool council, string what = "discriminator checkpoint")
    {
        var first = Shape(sd, "cnns.0.0.conv.weight", what);
        int scales = 0;
        while (sd.ContainsKey($"cnns.{scales}.0.conv.weight")) scales++;
        int layers = 0;
        while (sd.ContainsKey($"cnns.0.{layers}.conv.weight")) layers++;
        int inputDim = (int)first[1] - (council ? 3 : 0);
        return new DisOptions((int)first[0], NLayer: layers, NumScales: scales, InputDim: inputDim);
    }

    /// <summary>The config's generator options after checking every shape-visible value against the checkpoint.</summary>
    public static GenOptions Reconcile(GenOptions config, GenOptions inferred, string what)
    {
        var diffs = new List<string>();
        void Cmp(string key, int a, int b) { if (a != b) diffs.Add($"{key}: config {a}, checkpoint {b}"); }
        Cmp("gen.dim", config.Dim, inferred.Dim);
        Cmp("gen.mlp_dim", config.MlpDim, inferred.MlpDim);
        Cmp("gen.style_dim", config.StyleDim, inferred.StyleDim);
        Cmp("gen.n_downsample", config.NDownsample, inferred.NDownsample);
        Cmp("gen.n_res", config.NRes, inferred.NRes);
        Cmp("gen.num_of_mask_dim_to_add", config.NumMasks, inferred.NumMasks);
        Cmp("input_dim", config.InputDim, inferred.InputDim);
        if (diffs.Count > 0)
            throw new CouncilConfigException($"{what} does not match its config ({string.Join("; ", diffs)}): use the yaml that ships with these weights");
        return config;
    }

    /// <summary>The config's discriminator options after checking them against the checkpoint.</summary>
    public static DisOptions Reconcile(DisOptions config, DisOptions inferred, string what)
    {
        var diffs = new List<string>();
        void Cmp(string key, int a, int b) { if (a != b) diffs.Add($"{key}: config {a}, checkpoint {b}"); }
        Cmp("dis.dim", config.Dim, inferred.Dim);
        Cmp("dis.n_layer", config.NLayer, inferred.NLayer);
        Cmp("dis.num_scales", config.NumScales, inferred.NumScales);
        Cmp("input_dim", config.InputDim, inferred.InputDim);
        if (diffs.Count > 0)
            throw new CouncilConfigException($"{what} does not match its config ({string.Join("; ", diffs)}): use the yaml that ships with these weights");
        return config;
    }

    /// <summary>Builds a generator from a checkpoint file (config optional: without it the shapes decide).</summary>
    public static CouncilGenerator LoadGenerator(string path, GenOptions? config = null, string direction = "b2a", Device? device = null)
    {
        var sd = LoadStateDict(path, direction);
        try
        {
            var inferred = InferGenerator(sd, path);
            var g = new CouncilGenerator(config is null ? inferred : Reconcile(config, inferred, path));
            StateDicts.Load(g, sd, what: $"Council generator from {path}");
            g.eval();
            return device is null ? g : g.to(device);
        }
        finally
        {
            foreach (var t in sd.Values) t.Dispose();
        }
    }

    /// <summary>Builds D (<paramref name="council"/> false) or \hat D from a checkpoint file.</summary>
    public static nn.Module LoadDiscriminator(string path, bool council, DisOptions? config = null, string direction = "b2a", Device? device = null)
    {
        var sd = LoadStateDict(path, direction);
        try
        {
            var inferred = InferDiscriminator(sd, council, path);
            var o = config is null ? inferred : Reconcile(config, inferred, path);
            nn.Module d = council ? new MsImageDisCouncil(o) : new MsImageDis(o);
            StateDicts.Load(d, sd, what: $"Council {(council ? "council discriminator" : "discriminator")} from {path}");
            return device is null ? d : d.to(device);
        }
        finally
        {
            foreach (var t in sd.Values) t.Dispose();
        }
    }
}
