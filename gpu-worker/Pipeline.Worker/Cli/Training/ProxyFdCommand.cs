using System.CommandLine;
using System.Text.Json;
using Pipeline.Engine.Council;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.Training;
using Pipeline.Engine.Training.Council;
using Pipeline.Worker.Cli.StyleGan2;
using Spectre.Console;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Training;

/// <summary>
/// `pipeline train proxy-fd`: does a trained model beat its initialisation? Fréchet distances with the
/// <see cref="ProxyFrechet"/> feature network (never FID) between held-out synthetic images and the model's outputs,
/// for the trained weights, a freshly initialised model of the same architecture, and two real held-out sets (floor).
/// </summary>
internal static class ProxyFdCommand
{
    // Held-out seeds: training draws seeds 0.. (and 1,000,000.. for Council domain B).
    internal const int HeldOut1 = 5_000_000, HeldOut2 = 6_000_000;

    public static Command Build()
    {
        var sg2 = new Option<FileInfo?>("--stylegan2") { Description = "A StyleGAN2 checkpoint (g_ema is evaluated)" };
        var council = new Option<string?>("--council") { Description = "A Council model prefix <dir>/<8-digit step> (as pipeline translate --model)" };
        var kind = new Option<string>("--synthetic") { Description = "StyleGAN2: the synthetic domain it was trained on", DefaultValueFactory = _ => "faces" };
        var count = new Option<int>("--count") { Description = "Images per set", DefaultValueFactory = _ => 500 };
        var initSeed = new Option<long>("--init-seed") { Description = "Seed of the freshly initialised comparison model", DefaultValueFactory = _ => 1 };
        var json = new Option<FileInfo?>("--json") { Description = "Append the result as one JSON line to this file" };
        var cmd = new Command("proxy-fd", $"Trained vs initialised model: {ProxyFrechet.Name} (a proxy Frechet distance, not FID) on held-out synthetic data.")
        {
            sg2, council, kind, count, initSeed, json,
        };
        cmd.SetAction(p => Sg2Cli.Run(() =>
        {
            int n = p.GetValue(count);
            using var fd = new ProxyFrechet();
            Dictionary<string, object?> record;
            if (p.GetValue(sg2) is { } ckpt) record = StyleGan2(ckpt.FullName, TrainingData.ParseKind(p.GetValue(kind)!), n, p.GetValue(initSeed), fd);
            else if (p.GetValue(council) is { } prefix) record = Council(prefix, n, p.GetValue(initSeed), fd);
            else throw new ArgumentException("give --stylegan2 <checkpoint> or --council <prefix>");
            var table = new Table().AddColumn("comparison").AddColumn($"Frechet distance ({ProxyFrechet.Name}; pixel8_* rows: {ProxyFrechet.PixelName})");
            foreach (var (k, v) in record.Where(kv => kv.Value is double)) table.AddRow(k, ((double)v!).ToString("G5", System.Globalization.CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            AnsiConsole.MarkupLineInterpolated($"[grey]{ProxyFrechet.Description}[/]");
            if (p.GetValue(json) is { } file) File.AppendAllText(file.FullName, JsonSerializer.Serialize(record) + "\n");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Batches of at most <paramref name="size"/> images, views into <paramref name="all"/> (what the proxy statistics consume).</summary>
    internal static IEnumerable<Tensor> Chunks(Tensor all, int size = 50)
    {
        for (long i = 0; i < all.shape[0]; i += size) yield return all.narrow(0, i, Math.Min(size, all.shape[0] - i));
    }

    private static double Pixel(Tensor a, Tensor b) =>
        ProxyFrechet.Distance(ProxyFrechet.PixelStats(Chunks(a)), ProxyFrechet.PixelStats(Chunks(b)));

    /// <summary>Synthetic images seed0..seed0+n-1 as one [n, 3, size, size] tensor in [-1, 1] (held-out sets start at <see cref="HeldOut1"/>).</summary>
    internal static Tensor Real(SyntheticKind kind, int seed0, int n, int size)
    {
        using var ds = TrainingData.Synthetic(kind, n, size, seed0);
        return ds.Batch([.. Enumerable.Range(0, n).Select(i => (long)i)], new Random(0), hflip: false);
    }

    private static Tensor Samples(Engine.StyleGan2.Generator g, int n)
    {
        using var _ = no_grad();
        manual_seed(123);
        var outs = new List<Tensor>();
        for (int i = 0; i < n; i += 50)
        {
            var z = randn([Math.Min(50, n - i), g.Config.StyleDim]);
            outs.Add(g.Forward([z]).Image.clamp(-1, 1));
        }
        return cat(outs, 0);
    }

    private static Dictionary<string, object?> StyleGan2(string path, SyntheticKind kind, int n, long initSeed, ProxyFrechet fd)
    {
        var g = StyleGan2Checkpoint.Load(path).Generator;
        g.eval();
        int size = g.Config.Size;
        using var real1 = Real(kind, HeldOut1, n, size);
        using var real2 = Real(kind, HeldOut2, n, size);
        manual_seed(initSeed);
        using var init = new Engine.StyleGan2.Generator(g.Config);
        using var trained = Samples(g, n);
        using var initial = Samples(init, n);
        var s1 = fd.Stats(Chunks(real1));
        return new Dictionary<string, object?>
        {
            ["metric"] = ProxyFrechet.Name, ["pixel_metric"] = ProxyFrechet.PixelName, ["model"] = path, ["family"] = "stylegan2", ["data"] = TrainingData.Name(kind), ["count"] = n,
            ["trained_vs_real"] = ProxyFrechet.Distance(fd.Stats(Chunks(trained)), s1),
            ["init_vs_real"] = ProxyFrechet.Distance(fd.Stats(Chunks(initial)), s1),
            ["real_vs_real"] = ProxyFrechet.Distance(fd.Stats(Chunks(real2)), s1),
            ["pixel8_trained_vs_real"] = Pixel(trained, real1),
            ["pixel8_init_vs_real"] = Pixel(initial, real1),
            ["pixel8_real_vs_real"] = Pixel(real2, real1),
        };
    }

    private static Dictionary<string, object?> Council(string prefix, int n, long initSeed, ProxyFrechet fd)
    {
        using var translator = CouncilTranslator.Load(prefix);
        var config = translator.Config ?? throw new InvalidDataException($"{prefix}: no config.yaml beside the model; the initialised comparison needs the architecture");
        int size = translator.Size;
        using var inputs = Real(SyntheticKind.FacesPhoto, HeldOut1, n, size);
        using var targets = Real(SyntheticKind.FacesAnime, HeldOut1, n, size);
        using var targets2 = Real(SyntheticKind.FacesAnime, HeldOut2, n, size);
        var init = CouncilTrainingSetup.NewMembers(config, initSeed);
        using var trained = Translate(translator.Members, inputs, config.Gen.StyleDim);
        using var initial = Translate([.. init.Select(m => m.Gen)], inputs, config.Gen.StyleDim);
        var t = fd.Stats(Chunks(targets));
        return new Dictionary<string, object?>
        {
            ["metric"] = ProxyFrechet.Name, ["pixel_metric"] = ProxyFrechet.PixelName, ["model"] = prefix, ["family"] = "council", ["data"] = "faces-photo -> faces-anime", ["count"] = n,
            ["trained_vs_anime"] = ProxyFrechet.Distance(fd.Stats(Chunks(trained)), t),
            ["init_vs_anime"] = ProxyFrechet.Distance(fd.Stats(Chunks(initial)), t),
            ["inputs_vs_anime"] = ProxyFrechet.Distance(fd.Stats(Chunks(inputs)), t),
            ["anime_vs_anime"] = ProxyFrechet.Distance(fd.Stats(Chunks(targets2)), t),
            ["pixel8_trained_vs_anime"] = Pixel(trained, targets),
            ["pixel8_init_vs_anime"] = Pixel(initial, targets),
            ["pixel8_inputs_vs_anime"] = Pixel(inputs, targets),
            ["pixel8_anime_vs_anime"] = Pixel(targets2, targets),
        };
    }

    /// <summary>Input i goes through member i mod C with a seeded z (the evaluation uses every member equally).</summary>
    private static Tensor Translate(IReadOnlyList<CouncilGenerator> members, Tensor inputs, int styleDim)
    {
        using var _ = no_grad();
        var z = randn([inputs.shape[0], styleDim, 1, 1], generator: new TorchSharp.torch.Generator(7));
        var outs = new List<Tensor>();
        for (int m = 0; m < members.Count; m++)
        {
            var idx = tensor(Enumerable.Range(0, (int)inputs.shape[0]).Where(i => i % members.Count == m).Select(i => (long)i).ToArray());
            outs.Add(members[m].forward(inputs.index_select(0, idx), z.index_select(0, idx)));
        }
        return cat(outs, 0).clamp(-1, 1);
    }
}
