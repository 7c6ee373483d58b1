using Pipeline.Engine.IO;
using static TorchSharp.torch;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>
/// Builds G, E and D from the reference's checkpoint files (bare state_dicts, spec 11), inferring every size the
/// tensor shapes determine (input/output channels, widths, depths, enhancer count, num_D, n_layers_D, norm), so a model
/// folder needs no options file. Options may still be given: any disagreement is reported instead of guessed.
/// </summary>
public static class Networks
{
    /// <summary>A state_dict from a `.pth` (torch.save, zip or legacy) or `.safetensors` file.</summary>
    public static OrderedDictionary<string, Tensor> LoadStateDict(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint not found: {path}", path);
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return SafeTensors.Load(path);
        return LoadTorchStateDict(path);
    }

    private static bool IsBatchNormKey(string key) =>
        key.EndsWith(".running_mean", StringComparison.Ordinal) || key.EndsWith(".running_var", StringComparison.Ordinal)
        || key.EndsWith(".num_batches_tracked", StringComparison.Ordinal);

    private static NormKind InferNorm(IReadOnlyDictionary<string, Tensor> sd) =>
        sd.Keys.Any(k => k.EndsWith(".running_mean", StringComparison.Ordinal)) ? NormKind.Batch : NormKind.Instance;

    private static Tensor Require(IReadOnlyDictionary<string, Tensor> sd, string key, string what) =>
        sd.TryGetValue(key, out var t) ? t : throw new InvalidDataException($"{what} checkpoint has no '{key}': not a pix2pixHD {what} state_dict? keys start with: {string.Join(", ", sd.Keys.Take(6))}");

    private static int CountWhile(Func<int, bool> present)
    {
        int n = 0;
        while (present(n)) n++;
        return n;
    }

    /// <summary>Reads the generator's configuration from its state_dict keys and shapes (spec 11.4).</summary>
    public static GeneratorConfig InferGenerator(IReadOnlyDictionary<string, Tensor> sd)
    {
        var norm = InferNorm(sd);
        var first = Require(sd, "model.1.weight", "generator");
        int globalNgf = (int)first.shape[0], inputNc = (int)first.shape[1];
        // A downsampling conv i maps ngf*2^i -> ngf*2^(i+1); with no residual blocks the next weight is the first
        // transposed conv ([ngf*2^n, ngf*2^(n-1)]), so the shapes, not just the keys, decide where the stack ends.
        int n = CountWhile(i => sd.TryGetValue($"model.{4 + 3 * i}.weight", out var w) && w.dim() == 4
                                && w.shape[1] == (long)globalNgf << i && w.shape[0] == (long)globalNgf << (i + 1));
        int nb = CountWhile(b => sd.ContainsKey($"model.{4 + 3 * n + b}.conv_block.1.weight"));
        int enhancers = CountWhile(e => sd.ContainsKey($"model{e + 1}_1.1.weight"));
        if (enhancers == 0)
        {
            var last = Require(sd, $"model.{5 + 6 * n + nb}.weight", "generator");
            return new GeneratorConfig(inputNc, (int)last.shape[0], globalNgf, n, nb, norm);
        }
        int nbl = CountWhile(b => sd.ContainsKey($"model1_2.{b}.conv_block.1.weight"));
        var final = Require(sd, $"model{enhancers}_2.{nbl + 4}.weight", "local generator");
        int ngf = (int)final.shape[1];
        if (ngf << enhancers != globalNgf)
            throw new InvalidDataException($"local generator: global part width {globalNgf} is not ngf {ngf} x 2^{enhancers}");
        return new GeneratorConfig(inputNc, (int)final.shape[0], ngf, n, nb, norm, true, enhancers, nbl);
    }

    /// <summary>Encoder (input_nc, feat_num, nef, n_downsample_E, norm) from its state_dict.</summary>
    public static (int InputNc, int FeatNum, int Nef, int NDownsample, NormKind Norm) InferEncoder(IReadOnlyDictionary<string, Tensor> sd)
    {
        var first = Require(sd, "model.1.weight", "encoder");
        int convs = sd.Keys.Count(k => k.StartsWith("model.", StringComparison.Ordinal) && k.EndsWith(".weight", StringComparison.Ordinal) && sd[k].dim() == 4);
        if (convs < 2 || convs % 2 != 0) throw new InvalidDataException($"encoder checkpoint has {convs} conv weights; expected 2 + 2 x n_downsample_E");
        int n = (convs - 2) / 2;
        var last = Require(sd, $"model.{6 * n + 5}.weight", "encoder");
        return ((int)first.shape[1], (int)last.shape[0], (int)first.shape[0], n, InferNorm(sd));
    }

    /// <summary>Discriminator configuration; the sigmoid (no_lsgan) leaves no trace in the weights, so it is a parameter.</summary>
    public static DiscriminatorConfig InferDiscriminator(IReadOnlyDictionary<string, Tensor> sd, bool useSigmoid = false)
    {
        var norm = InferNorm(sd);
        if (sd.ContainsKey("scale0_layer0.0.weight"))
        {
            int numD = CountWhile(i => sd.ContainsKey($"scale{i}_layer0.0.weight"));
            int groups = CountWhile(j => sd.ContainsKey($"scale0_layer{j}.0.weight"));
            var first = sd["scale0_layer0.0.weight"];
            return new DiscriminatorConfig((int)first.shape[1], (int)first.shape[0], groups - 2, norm, useSigmoid, numD, true);
        }
        var f = Require(sd, "layer0.0.weight", "discriminator");
        int num = CountWhile(i => sd.ContainsKey($"layer{i}.0.weight"));
        int nLayers = CountWhile(k => sd.ContainsKey($"layer0.{2 + 3 * k}.weight")) - 1;
        return new DiscriminatorConfig((int)f.shape[1], (int)f.shape[0], nLayers, norm, useSigmoid, num, false);
    }

    public static TorchSharp.torch.nn.Module<Tensor, Tensor> BuildGenerator(GeneratorConfig c) => c.Local
        ? new LocalEnhancer(c.InputNc, c.OutputNc, c.Ngf, c.NDownsample, c.NBlocks, c.NLocalEnhancers, c.NBlocksLocal, c.Norm)
        : new GlobalGenerator(c.InputNc, c.OutputNc, c.Ngf, c.NDownsample, c.NBlocks, c.Norm);

    /// <summary>
    /// A generator with the checkpoint's weights, loaded strictly (spec 11.3 rule 1). When <paramref name="expected"/>
    /// is given, a checkpoint of another shape is rejected with both configurations in the message.
    /// </summary>
    public static (TorchSharp.torch.nn.Module<Tensor, Tensor> Net, GeneratorConfig Config) LoadGenerator(IReadOnlyDictionary<string, Tensor> sd, GeneratorConfig? expected = null)
    {
        var c = InferGenerator(sd);
        if (expected is not null && expected != c)
            throw new InvalidDataException($"generator checkpoint is {c}, but the options describe {expected}");
        var net = BuildGenerator(c);
        StateDicts.Load(net, sd, strict: true, ignore: IsNumBatchesTracked, what: "pix2pixHD generator");
        return (net, c);
    }

    public static Encoder LoadEncoder(IReadOnlyDictionary<string, Tensor> sd)
    {
        var (inputNc, featNum, nef, n, norm) = InferEncoder(sd);
        var net = new Encoder(inputNc, featNum, nef, n, norm);
        StateDicts.Load(net, sd, strict: true, ignore: IsNumBatchesTracked, what: "pix2pixHD encoder");
        return net;
    }

    public static MultiscaleDiscriminator LoadDiscriminator(IReadOnlyDictionary<string, Tensor> sd, bool useSigmoid = false)
    {
        var net = new MultiscaleDiscriminator(InferDiscriminator(sd, useSigmoid));
        StateDicts.Load(net, sd, strict: true, ignore: IsNumBatchesTracked, what: "pix2pixHD discriminator");
        return net;
    }

    // TorchSharp versions differ on whether BatchNorm exposes num_batches_tracked; the value never changes a result.
    private static bool IsNumBatchesTracked(string key) => key.EndsWith(".num_batches_tracked", StringComparison.Ordinal);

    /// <summary>pix2pixHD saves bare state_dicts; a wrapper dict holding one under "state_dict" is accepted too.</summary>
    private static OrderedDictionary<string, Tensor> LoadTorchStateDict(string path)
    {
        var root = TorchFile.Load(path);
        var sd = StateDicts.Has(root, "state_dict") ? StateDicts.Get(root, "state_dict") : StateDicts.Get(root);
        if (sd.Count == 0) throw new InvalidDataException($"{path} holds no tensors: not a pix2pixHD checkpoint (torch.save(net.state_dict()))");
        return sd;
    }
}
