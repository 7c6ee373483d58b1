using System.Globalization;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>
/// Reads the reference's options in its own spelling: a command line (`--label_nc 8 --instance_feat`) or the
/// `opt.txt` the reference writes beside its checkpoints (`label_nc: 8`). Options that do not change numbers are ignored.
/// </summary>
public static class OptionsParser
{
    private static readonly HashSet<string> Flags =
    [
        "no_instance", "instance_feat", "label_feat", "no_ganFeat_loss", "no_vgg_loss", "no_lsgan",
    ];

    /// <summary>Options from reference-style arguments; unknown arguments (paths, names) are skipped.</summary>
    public static Pix2PixHDOptions FromArgv(IEnumerable<string> argv, Pix2PixHDOptions? start = null)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        var list = argv.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            if (!list[i].StartsWith("--", StringComparison.Ordinal)) continue;
            var key = list[i][2..];
            if (Flags.Contains(key)) pairs[key] = "True";
            else if (i + 1 < list.Count) pairs[key] = list[++i];
        }
        return FromPairs(pairs, start);
    }

    /// <summary>Options from the reference's `opt.txt` ("key: value" lines between banner lines).</summary>
    public static Pix2PixHDOptions FromOptTxt(string text, Pix2PixHDOptions? start = null)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || line.StartsWith("---", StringComparison.Ordinal)) continue;
            pairs[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }
        return FromPairs(pairs, start);
    }

    /// <summary>Applies reference-named values (strings as the reference prints them) over <paramref name="start"/>.</summary>
    public static Pix2PixHDOptions FromPairs(IReadOnlyDictionary<string, string> p, Pix2PixHDOptions? start = null)
    {
        var o = start ?? new Pix2PixHDOptions();
        int I(string k, int d) => p.TryGetValue(k, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : d;
        double D(string k, double d) => p.TryGetValue(k, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : d;
        bool B(string k, bool d) => p.TryGetValue(k, out var v) ? v is "True" or "true" or "1" : d;
        string S(string k, string d) => p.TryGetValue(k, out var v) ? v : d;
        var norm = S("norm", o.Norm == NormKind.Batch ? "batch" : "instance") switch
        {
            "instance" => NormKind.Instance,
            "batch" => NormKind.Batch,
            var other => throw new ArgumentException($"norm '{other}' is not supported: use instance or batch"),
        };
        var r = o with
        {
            LabelNc = I("label_nc", o.LabelNc), InputNc = I("input_nc", o.InputNc), OutputNc = I("output_nc", o.OutputNc),
            NetG = S("netG", o.NetG), Ngf = I("ngf", o.Ngf), NDownsampleGlobal = I("n_downsample_global", o.NDownsampleGlobal),
            NBlocksGlobal = I("n_blocks_global", o.NBlocksGlobal), NLocalEnhancers = I("n_local_enhancers", o.NLocalEnhancers),
            NBlocksLocal = I("n_blocks_local", o.NBlocksLocal), Norm = norm, NoInstance = B("no_instance", o.NoInstance),
            InstanceFeat = B("instance_feat", o.InstanceFeat), LabelFeat = B("label_feat", o.LabelFeat), FeatNum = I("feat_num", o.FeatNum),
            Nef = I("nef", o.Nef), NDownsampleE = I("n_downsample_E", o.NDownsampleE), Ndf = I("ndf", o.Ndf), NLayersD = I("n_layers_D", o.NLayersD),
            NumD = I("num_D", o.NumD), LambdaFeat = D("lambda_feat", o.LambdaFeat), NoGanFeatLoss = B("no_ganFeat_loss", o.NoGanFeatLoss),
            NoVggLoss = B("no_vgg_loss", o.NoVggLoss), NoLsgan = B("no_lsgan", o.NoLsgan), ResizeOrCrop = S("resize_or_crop", o.ResizeOrCrop),
            LoadSize = I("loadSize", o.LoadSize), FineSize = I("fineSize", o.FineSize),
        };
        r.Validate();
        return r;
    }

    /// <summary>
    /// The `opt.txt` the reference writes (BaseOptions.parse): a banner, then "key: value" for every option in sorted
    /// order, Python's spelling of values (True/False), then the end banner. <paramref name="extra"/> adds options that
    /// change no numbers here (name, batchSize, lr, niter, ...), so the file reads like the reference's.
    /// </summary>
    public static string ToOptTxt(Pix2PixHDOptions o, IReadOnlyDictionary<string, string>? extra = null)
    {
        static string B(bool b) => b ? "True" : "False";
        var p = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["label_nc"] = Str(o.LabelNc), ["input_nc"] = Str(o.InputNc), ["output_nc"] = Str(o.OutputNc), ["netG"] = o.NetG,
            ["ngf"] = Str(o.Ngf), ["n_downsample_global"] = Str(o.NDownsampleGlobal), ["n_blocks_global"] = Str(o.NBlocksGlobal),
            ["n_local_enhancers"] = Str(o.NLocalEnhancers), ["n_blocks_local"] = Str(o.NBlocksLocal),
            ["norm"] = o.Norm == NormKind.Batch ? "batch" : "instance", ["no_instance"] = B(o.NoInstance),
            ["instance_feat"] = B(o.InstanceFeat), ["label_feat"] = B(o.LabelFeat), ["feat_num"] = Str(o.FeatNum), ["nef"] = Str(o.Nef),
            ["n_downsample_E"] = Str(o.NDownsampleE), ["ndf"] = Str(o.Ndf), ["n_layers_D"] = Str(o.NLayersD), ["num_D"] = Str(o.NumD),
            ["lambda_feat"] = o.LambdaFeat.ToString("0.0##", CultureInfo.InvariantCulture), ["no_ganFeat_loss"] = B(o.NoGanFeatLoss),
            ["no_vgg_loss"] = B(o.NoVggLoss), ["no_lsgan"] = B(o.NoLsgan), ["resize_or_crop"] = o.ResizeOrCrop,
            ["loadSize"] = Str(o.LoadSize), ["fineSize"] = Str(o.FineSize),
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) p[k] = v;
        var sb = new System.Text.StringBuilder("------------ Options -------------\n");
        foreach (var k in p.Keys.Order(StringComparer.Ordinal)) sb.Append(k).Append(": ").Append(p[k]).Append('\n');
        sb.Append("-------------- End ----------------\n");
        return sb.ToString();
    }

    private static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);
}
