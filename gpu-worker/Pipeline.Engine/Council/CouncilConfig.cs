using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Pipeline.Engine.Council;

/// <summary>Generator hyper-parameters (the yaml's <c>gen:</c> section plus the image channel count).</summary>
public sealed record GenOptions(
    int Dim = 64,
    int MlpDim = 256,
    int StyleDim = 64,
    int NDownsample = 2,
    int NRes = 5,
    string Activ = "relu",
    string PadType = "zero",
    int NumMasks = 3,
    int InputDim = 3)
{
    /// <summary>Width of the content code: dim · 2^n_downsample.</summary>
    public int ContentDim => Dim << NDownsample;

    /// <summary>Length of the MLP output: 2 × the channel counts of every AdaIN layer of the decoder.</summary>
    public int NumAdaInParams
    {
        get
        {
            int n = 4 * NRes * ContentDim;
            for (int u = 1; u <= NDownsample; u++) n += 4 * (ContentDim >> u);
            return n;
        }
    }
}

/// <summary>Discriminator hyper-parameters (the yaml's <c>dis:</c> section).</summary>
public sealed record DisOptions(
    int Dim = 64,
    string Norm = "none",
    string Activ = "lrelu",
    int NLayer = 4,
    string GanType = "lsgan",
    int NumScales = 2,
    string PadType = "zero",
    int InputDim = 3);

/// <summary>Council hyper-parameters (the yaml's <c>council:</c> section).</summary>
public sealed record CouncilOptions(
    int CouncilSize = 4,
    int ComparisonsPerStep = 4,
    double LessStyleBy = 0.7,
    int CouncilStartAtIter = 1000,
    bool FlipOnOff = false);

/// <summary>Loss weights and optimiser settings used by one training iteration.</summary>
public sealed record TrainOptions(
    double GanW = 26,
    double CouncilW = 6,
    bool DoWLossMatching = true,
    int LossMatchingHistSize = 100,
    double Lr = 1e-4,
    double Beta1 = 0.5,
    double Beta2 = 0.999,
    double WeightDecay = 1e-4,
    int StepSize = 100000,
    double Gamma = 0.5,
    int BatchSize = 3,
    IReadOnlyDictionary<string, double>? InactiveWeights = null);

/// <summary>
/// The Council-GAN yaml (anime2face_council_folder.yaml and the files that ship with checkpoints), read with the
/// YAML 1.1 scalar rules of <c>yaml.safe_load</c> for the keys the engine uses.
/// </summary>
public sealed record CouncilConfig(
    GenOptions Gen,
    DisOptions Dis,
    CouncilOptions Council,
    TrainOptions Train,
    int NewSize = 128,
    int CropHeight = 128,
    int CropWidth = 128,
    bool DoA2B = false,
    bool DoB2A = true)
{
    /// <summary>Loss weights the engine does not implement; a config that turns one on fails in training.</summary>
    public static readonly string[] InactiveWeightKeys =
    [
        "recon_x_w", "recon_s_w", "recon_c_w", "recon_x_cyc_w", "vgg_w", "council_abs_w",
        "mask_zero_or_one_w", "mask_total_w", "mask_tv_w", "abs_beginning_end",
    ];

    /// <summary>The direction whose networks a checkpoint holds ("b2a" unless the config only enables a2b).</summary>
    public string Direction => DoB2A ? "b2a" : "a2b";

    public static CouncilConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Council config not found: {path}", path);
        try
        {
            return Parse(File.ReadAllText(path));
        }
        catch (Exception e) when (e is not CouncilConfigException)
        {
            throw new CouncilConfigException($"{path}: not a readable Council-GAN yaml ({e.Message})", e);
        }
    }

    public static CouncilConfig Parse(string yamlText)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(yamlText)) stream.Load(reader);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new CouncilConfigException("the config is not a yaml mapping");
        var top = new Section(root, "");
        var gen = top.Sub("gen");
        var dis = top.Sub("dis");
        var council = top.TrySub("council");
        int inA = top.Int("input_dim_a", 3), inB = top.Int("input_dim_b", 3);
        bool doA2B = top.Bool("do_a2b", true), doB2A = top.Bool("do_b2a", true);
        // The b2a generator reads domain-B images; its discriminators judge domain-A images.
        int genIn = doB2A ? inB : inA, disIn = doB2A ? inA : inB;
        if (gen.Bool("do_my_style", false))
            throw new CouncilConfigException("gen.do_my_style: True selects the concatenated-style decoder, which the engine does not implement (anime2face uses False)");

        var inactive = new Dictionary<string, double>();
        foreach (var k in InactiveWeightKeys)
        {
            double v = top.Double(k, 0);
            if (v != 0) inactive[k] = v;
        }
        int newSize = top.Int("new_size");
        return new CouncilConfig(
            new GenOptions(gen.Int("dim"), gen.Int("mlp_dim"), gen.Int("style_dim"), gen.Int("n_downsample"), gen.Int("n_res"),
                gen.Str("activ", "relu"), gen.Str("pad_type", "zero"), gen.Int("num_of_mask_dim_to_add", 3), genIn),
            new DisOptions(dis.Int("dim"), dis.Str("norm", "none"), dis.Str("activ", "lrelu"), dis.Int("n_layer"),
                dis.Str("gan_type", "lsgan"), dis.Int("num_scales"), dis.Str("pad_type", "zero"), disIn),
            council is null
                ? new CouncilOptions(CouncilSize: 1)
                : new CouncilOptions(council.Int("council_size", 1), council.Int("numberOfCouncil_dis_relative_iteration", 1),
                    council.Double("discriminetro_less_style_by", 1), council.Int("council_start_at_iter", 0), council.Bool("flipOnOff", false)),
            new TrainOptions(top.Double("gan_w", 1), top.Double("council_w", 0), top.Bool("do_w_loss_matching", false),
                top.Int("loss_matching_hist_size", 100), top.Double("lr", 1e-4), top.Double("beta1", 0.5), top.Double("beta2", 0.999),
                top.Double("weight_decay", 0), top.Int("step_size", 100000), top.Double("gamma", 0.5), top.Int("batch_size", 1), inactive),
            newSize, top.Int("crop_image_height", newSize), top.Int("crop_image_width", newSize), doA2B, doB2A);
    }

    /// <summary>One yaml mapping with typed, YAML-1.1 accessors and errors naming the full key.</summary>
    private sealed class Section(YamlMappingNode node, string path)
    {
        private string Full(string key) => path.Length == 0 ? key : $"{path}.{key}";

        private string? Scalar(string key)
        {
            if (!node.Children.TryGetValue(new YamlScalarNode(key), out var v)) return null;
            return v is YamlScalarNode s ? s.Value : throw new CouncilConfigException($"config key '{Full(key)}' is not a scalar");
        }

        public Section Sub(string key) =>
            TrySub(key) ?? throw new CouncilConfigException($"config lacks the '{Full(key)}:' section");

        public Section? TrySub(string key) =>
            node.Children.TryGetValue(new YamlScalarNode(key), out var v) && v is YamlMappingNode m ? new Section(m, Full(key)) : null;

        public int Int(string key, int? fallback = null)
        {
            var s = Scalar(key);
            if (s is null) return fallback ?? throw new CouncilConfigException($"config lacks '{Full(key)}'");
            // YAML 1.1 allows '_' digit separators (1_000 is 1000).
            if (long.TryParse(s.Replace("_", ""), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) && v is >= int.MinValue and <= int.MaxValue)
                return (int)v;
            if (double.TryParse(s.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue)
                return (int)d;
            throw new CouncilConfigException($"config '{Full(key)}' = '{s}' is not an integer");
        }

        public double Double(string key, double fallback)
        {
            var s = Scalar(key);
            if (s is null) return fallback;
            if (double.TryParse(s.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
            throw new CouncilConfigException($"config '{Full(key)}' = '{s}' is not a number");
        }

        public bool Bool(string key, bool fallback)
        {
            var s = Scalar(key);
            if (s is null) return fallback;
            return s.ToLowerInvariant() switch
            {
                "true" or "yes" or "on" or "y" => true,
                "false" or "no" or "off" or "n" => false,
                _ => throw new CouncilConfigException($"config '{Full(key)}' = '{s}' is not a boolean"),
            };
        }

        public string Str(string key, string fallback) => Scalar(key) ?? fallback;
    }
}

/// <summary>A config or checkpoint that does not describe a network the engine can build.</summary>
public sealed class CouncilConfigException : Exception
{
    public CouncilConfigException(string message) : base(message) { }
    public CouncilConfigException(string message, Exception inner) : base(message, inner) { }
    public CouncilConfigException() { }
}
