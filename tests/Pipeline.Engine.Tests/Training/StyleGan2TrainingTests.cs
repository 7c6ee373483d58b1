using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.Training;
using Pipeline.Engine.Training.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Tests.Training;

/// <summary>train.py's loop on a tiny model: lazy-regularisation intervals, Adam correction, EMA, checkpoint layout, resume.</summary>
public sealed class StyleGan2TrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sg2train-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Dictionary<int, int> Ch(int size) => Enumerable.Range(2, (int)Math.Log2(size) - 1).ToDictionary(l => 1 << l, _ => 8);

    private static StyleGan2Trainer Tiny(long seed = 3)
    {
        manual_seed(seed);
        var opts = new StyleGan2TrainOptions { Batch = 2, DRegEvery = 2, GRegEvery = 2, Seed = seed };
        return new StyleGan2Trainer(new GeneratorConfig(8, 8, 2, Ch(8)), new DiscriminatorConfig(8, Ch(8)), opts);
    }

    private static Tensor Real(long seed) => (rand([2, 3, 8, 8], generator: new torch.Generator((ulong)seed)) * 2 - 1);

    private static Dictionary<string, Tensor> Params(nn.Module m) =>
        m.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    [Fact]
    public void Optimisers_use_the_lazy_regularisation_correction()
    {
        var o = new StyleGan2TrainOptions();
        // spec 9.2: c = every / (every + 1) scales lr and the exponent of beta2.
        Assert.Equal(0.002 * 4 / 5, o.GOptim.Lr, 12);
        Assert.Equal(Math.Pow(0.99, 0.8), o.GOptim.Beta2, 12);
        Assert.Equal(0.002 * 16 / 17, o.DOptim.Lr, 12);
        Assert.Equal(Math.Pow(0.99, 16.0 / 17), o.DOptim.Beta2, 12);
        Assert.Equal(0, o.GOptim.Beta1);
        Assert.Equal(Math.Pow(0.5, 32.0 / 10000), o.EmaDecay, 15);
        using var t = Tiny();
        Assert.Equal(0.002 * 2 / 3, t.GOptim.LearningRate, 12);
        Assert.Equal(Math.Pow(0.99, 2.0 / 3), t.DOptim.Beta2, 12);
    }

    [Fact]
    public void ReferenceAdam_matches_TorchSharp_Adam_with_weight_decay()
    {
        manual_seed(0);
        var a = nn.Linear(4, 3);
        var b = nn.Linear(4, 3);
        b.load_state_dict(a.state_dict());
        using var ours = new ReferenceAdam(a.parameters(), 0.01, 0.5, 0.9, 1e-8, 1e-3);
        using var theirs = optim.Adam(b.parameters(), 0.01, 0.5, 0.9, 1e-8, 1e-3);
        for (int s = 0; s < 5; s++)
        {
            var x = randn(6, 4);
            ours.ZeroGrad();
            a.forward(x).square().sum().backward();
            ours.Step();
            theirs.zero_grad();
            b.forward(x).square().sum().backward();
            theirs.step();
        }
        foreach (var ((name, p), (_, q)) in a.named_parameters().Zip(b.named_parameters()))
            Assert.True(p.allclose(q, 1e-6, 1e-7), $"{name} differs from torch.optim.Adam");
        Assert.Equal(5, ours.Steps);
    }

    [Fact]
    public void ReferenceAdam_param_groups_match_TorchSharp_and_round_trip_through_the_state_dict()
    {
        // StyleGAN v1's g_optimizer: two groups (the mapping network at its own lr), state indexed across both groups.
        manual_seed(1);
        var a = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2));
        var b = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2));
        b.load_state_dict(a.state_dict());
        var pa = a.parameters().ToArray();
        var pb = b.parameters().ToArray();
        using var ours = new ReferenceAdam(pa[..2], 0.01, 0, 0.99);
        ours.AddGroup(pa[2..], 0.0001);
        using var theirs = optim.Adam([new TorchSharp.Modules.Adam.ParamGroup(pb[..2], 0.01, 0, 0.99), new TorchSharp.Modules.Adam.ParamGroup(pb[2..], 0.0001, 0, 0.99)]);
        void Both(int seed)
        {
            var x = randn([6, 4], generator: new torch.Generator((ulong)seed));
            ours.ZeroGrad();
            a.forward(x).square().sum().backward();
            ours.Step();
            theirs.zero_grad();
            b.forward(x).square().sum().backward();
            theirs.step();
        }
        for (int s = 0; s < 3; s++) Both(s);
        foreach (var (p, q) in pa.Zip(pb)) Assert.True(p.allclose(q, 1e-6, 1e-7), "a group differs from torch.optim.Adam");

        var sd = ours.StateDict();
        var groups = Assert.IsType<List<object?>>(sd["param_groups"]);
        Assert.Equal(2, groups.Count);
        Assert.Equal([2L, 3L], ((Dictionary<string, object?>)groups[1]!)["params"] as List<object?>);
        Assert.Equal(0.0001, (double)((Dictionary<string, object?>)groups[1]!)["lr"]!);

        // As TorchFile.Load gives it back (string keys): a fresh optimiser continues exactly where this one is.
        var reread = new OrderedDictionary<string, object?>
        {
            ["state"] = new OrderedDictionary<string, object?>(((Dictionary<long, object?>)sd["state"]!).Select(kv => KeyValuePair.Create(kv.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), kv.Value))),
            ["param_groups"] = groups,
        };
        var c = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2));
        c.load_state_dict(a.state_dict());
        var pc = c.parameters().ToArray();
        using var resumed = new ReferenceAdam(pc[..2], 0.01, 0, 0.99);
        resumed.AddGroup(pc[2..], 0.0001);
        resumed.LoadStateDict(reread);
        var x3 = randn([6, 4], generator: new torch.Generator(3));
        resumed.ZeroGrad();
        c.forward(x3).square().sum().backward();
        resumed.Step();
        Both(3);
        foreach (var (p, q) in pa.Zip(pc)) Assert.True(p.eq(q).all().item<bool>(), "the resumed optimiser did not continue exactly");

        // Groups that do not match are refused, not silently mis-assigned.
        using var wrong = new ReferenceAdam(pc[..1], 0.01, 0, 0.99);
        wrong.AddGroup(pc[1..], 0.0001);
        var e = Assert.Throws<InvalidDataException>(() => wrong.LoadStateDict(reread, "g_optimizer"));
        Assert.Contains("param group 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Steps_are_finite_regularise_lazily_and_move_the_ema()
    {
        using var t = Tiny();
        var g0 = Params(t.G);
        Assert.All(Params(t.GEma), kv => Assert.True(kv.Value.eq(g0[kv.Key]).all().item<bool>(), $"g_ema starts as a copy of g ({kv.Key})"));
        var stats = new List<StyleGan2StepStats>();
        for (int i = 0; i < 4; i++)
        {
            var before = Params(t.GEma);
            stats.Add(t.Step(Real(i)));
            var g = Params(t.G);
            // accumulate(): ema = decay·ema + (1 − decay)·g after every iteration, parameters only.
            foreach (var (name, e) in Params(t.GEma))
            {
                var expected = before[name] * t.Options.EmaDecay + g[name] * (1 - t.Options.EmaDecay);
                Assert.True(e.allclose(expected, 1e-5, 1e-7), $"EMA update of {name}");
            }
        }
        Assert.All(stats, s => Assert.True(double.IsFinite(s.D) && double.IsFinite(s.G) && double.IsFinite(s.R1) && double.IsFinite(s.Path)));
        Assert.Equal([true, false, true, false], stats.Select(s => s.DidR1));
        Assert.Equal([true, false, true, false], stats.Select(s => s.DidPath));
        Assert.True(stats[0].R1 > 0 && stats[0].Path > 0);
        Assert.NotEqual(0, t.MeanPathLength);
        Assert.Equal(4, t.Iteration);
        Assert.Contains(Params(t.GEma), kv => !kv.Value.eq(g0[kv.Key]).all().item<bool>());
        // Regularised steps add a second Adam step: D stepped 4 + 2 times, G 4 + 2 times.
        Assert.Equal(6, t.DOptim.Steps);
        Assert.Equal(6, t.GOptim.Steps);
    }

    [Fact]
    public void Checkpoint_has_the_train_py_layout_loads_and_resumes()
    {
        using var t = Tiny();
        t.Step(Real(0));
        t.Step(Real(1));
        var path = Path.Combine(_dir, "000002.pt");
        using (no_grad()) t.Save(path, t.GEma.MeanLatent(64));

        var tree = Assert.IsType<OrderedDictionary<string, object?>>(TorchFile.Load(path));
        Assert.Equal(["g", "d", "g_ema", "g_optim", "d_optim", "args", "ada_aug_p", "latent_avg"], tree.Keys);
        var gOptim = Assert.IsAssignableFrom<IDictionary<string, object?>>(tree["g_optim"]);
        var state = Assert.IsAssignableFrom<IDictionary<string, object?>>(gOptim["state"]);
        Assert.Equal(t.G.parameters().Count(), state.Count);
        Assert.Equal("0", state.Keys.First());

        var ckpt = StyleGan2Checkpoint.Load(path, withTrainingGenerator: true, withDiscriminator: true);
        Assert.NotNull(ckpt.TruncationLatent);
        foreach (var (name, p) in t.GEma.named_parameters())
            Assert.True(p.eq(ckpt.Generator.named_parameters().First(q => q.name == name).parameter).all().item<bool>(), name);

        using var r = StyleGan2Trainer.Resume(path, t.Options);
        Assert.Equal(2, r.Iteration);
        Assert.Equal(t.MeanPathLength, r.MeanPathLength, 6);
        Assert.Equal(t.GOptim.Steps, r.GOptim.Steps);
        foreach (var (name, p) in t.D.named_parameters())
            Assert.True(p.eq(r.D.named_parameters().First(q => q.name == name).parameter).all().item<bool>(), name);
        // Training continues from the saved iteration with the same regularisation schedule.
        var a = t.Step(Real(2));
        var b = r.Step(Real(2));
        Assert.Equal(3, r.Iteration);
        Assert.True(a.DidR1 == b.DidR1 && a.DidPath == b.DidPath);
        Assert.True(double.IsFinite(b.D) && double.IsFinite(b.G));
    }

    [Fact]
    public void Loop_writes_metrics_samples_and_a_final_checkpoint()
    {
        using var t = Tiny();
        manual_seed(1);
        using var data = new ImageTensorDataset((rand(6, 3, 8, 8) * 255).to(ScalarType.Byte));
        var samples = new List<long>();
        var observer = new Recorder(samples);
        var last = StyleGan2TrainingLoop.Run(t, data, new StyleGan2LoopOptions { Iterations = 3, OutDir = _dir, SampleEvery = 2, CheckpointEvery = 100, NSample = 4, LatentAvgSamples = 16 }, observer);
        Assert.Equal(StyleGan2TrainingLoop.CheckpointPath(_dir, 3), last);
        Assert.Equal(3, MetricLog.ReadNumbers(Path.Combine(_dir, "metrics.jsonl")).Count);
        Assert.Equal([0L, 2L, 3L], samples);
        Assert.True(StyleGan2Checkpoint.Load(last).TruncationLatent is not null);
    }

    private sealed class Recorder(List<long> samples) : IStyleGan2TrainingObserver
    {
        public void OnStep(StyleGan2StepStats stats) { }
        public void OnSample(long iteration, Tensor s)
        {
            Assert.Equal([4L, 3, 8, 8], s.shape);
            samples.Add(iteration);
        }
        public void OnCheckpoint(long iteration, string path) => Assert.True(File.Exists(path));
    }
}
