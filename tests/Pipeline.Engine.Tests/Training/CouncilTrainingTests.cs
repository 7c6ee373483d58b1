using Pipeline.Engine.Council;
using Pipeline.Engine.Training;
using Pipeline.Engine.Training.Council;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Training;

/// <summary>Council-GAN loop on a tiny council: snapshots in the reference naming, config.yaml, loading for inference, resume.</summary>
public sealed class CouncilTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("counciltrain-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CouncilConfig Tiny() => new(
        new GenOptions(Dim: 4, MlpDim: 8, StyleDim: 4, NDownsample: 1, NRes: 1),
        new DisOptions(Dim: 4, NLayer: 2, NumScales: 2),
        new CouncilOptions(CouncilSize: 2, ComparisonsPerStep: 2, LessStyleBy: 0.7, CouncilStartAtIter: 1),
        new TrainOptions(BatchSize: 2, WeightDecay: 1e-4, DoWLossMatching: true), NewSize: 16, CropHeight: 16, CropWidth: 16);

    [Fact]
    public void Config_yaml_round_trips_through_the_reference_reader()
    {
        var c = Tiny();
        var back = CouncilConfig.Parse(CouncilTrainingSetup.ToYaml(c));
        Assert.Equal(c.Gen, back.Gen);
        Assert.Equal(c.Dis, back.Dis);
        Assert.Equal(c.Council, back.Council);
        Assert.Equal(c.Train with { InactiveWeights = null }, back.Train with { InactiveWeights = null });
        Assert.Empty(back.Train.InactiveWeights!);
        Assert.Equal((c.NewSize, c.DoA2B, c.DoB2A), (back.NewSize, back.DoA2B, back.DoB2A));
    }

    [Fact]
    public void Initialisation_follows_the_reference()
    {
        var m = CouncilTrainingSetup.NewMembers(Tiny(), 5)[0];
        foreach (var (name, p) in m.Dis.named_parameters().Concat(m.DisCouncil.named_parameters()))
        {
            if (name.EndsWith("bias", StringComparison.Ordinal)) Assert.Equal(0, p.abs().max().item<float>());
            else if (p.numel() > 100) Assert.InRange(p.std().item<float>(), 0.015, 0.025); // N(0, 0.02)
        }
        // kaiming_normal fan_in: std = sqrt(2 / fan_in) for the generator's convolutions.
        var conv = m.Gen.named_parameters().First(p => p.name.EndsWith("conv.weight", StringComparison.Ordinal) && p.parameter.numel() > 100).parameter;
        double fanIn = conv.shape[1] * conv.shape[2] * conv.shape[3];
        Assert.InRange(conv.std().item<float>(), 0.7 * Math.Sqrt(2 / fanIn), 1.3 * Math.Sqrt(2 / fanIn));
    }

    [Fact]
    public void Loop_saves_reference_snapshots_that_load_for_inference_and_resume()
    {
        var cfg = Tiny();
        manual_seed(2);
        using var a = new ImageTensorDataset((rand(4, 3, 16, 16) * 255).to(ScalarType.Byte));
        using var b = new ImageTensorDataset((rand(4, 3, 16, 16) * 255).to(ScalarType.Byte));
        var members = CouncilTrainingSetup.NewMembers(cfg, 1);
        using var trainer = new CouncilTrainer(cfg, members);
        var observer = new Recorder();
        var prefix = CouncilTrainingLoop.Run(trainer, cfg, a, b, new CouncilLoopOptions { Iterations = 3, OutDir = _dir, SnapshotEvery = 2, ImageEvery = 100, Seed = 1 }, observer);

        Assert.Equal(Path.Combine(_dir, "00000003"), prefix);
        foreach (var step in new[] { "00000002", "00000003" })
            for (int i = 0; i < 2; i++)
                foreach (var kind in new[] { "gen", "dis", "dis_council" })
                    Assert.True(File.Exists(Path.Combine(_dir, $"b2a_{kind}_{i}_{step}.pt")), $"b2a_{kind}_{i}_{step}.pt");
        Assert.Equal(["b2a"], ((OrderedDictionary<string, object?>)Pipeline.Engine.IO.TorchFile.Load(Path.Combine(_dir, "b2a_gen_1_00000003.pt"))!).Keys);
        Assert.Equal(3, MetricLog.ReadNumbers(Path.Combine(_dir, "metrics.jsonl")).Count);
        Assert.True(observer.CouncilSeen, "the council term is active from council_start_at_iter = 1");
        Assert.All(observer.Stats, s => Assert.True(double.IsFinite(s.Dis) && double.IsFinite(s.GenTotal) && double.IsFinite(s.DisCouncil)));

        using var translator = CouncilTranslator.Load(prefix);
        Assert.Equal(2, translator.Members.Count);
        Assert.Equal(16, translator.Size);
        using (no_grad())
        {
            var x = rand(2, 3, 16, 16) * 2 - 1;
            var z = randn(2, 4, 1, 1);
            Assert.True(translator.Members[1].forward(x, z).allclose(members[1].Gen.forward(x, z), 1e-5, 1e-6), "saved generator = trained generator");
        }

        Assert.Equal(3, CouncilTrainingSetup.LatestStep(_dir, cfg));
        var resumed = CouncilTrainingSetup.Load(_dir, cfg, 3);
        using var t2 = new CouncilTrainer(cfg, resumed) { Iteration = 3 };
        var last = CouncilTrainingLoop.Run(t2, cfg, a, b, new CouncilLoopOptions { Iterations = 4, OutDir = _dir, SnapshotEvery = 100, ImageEvery = 100, Seed = 1 });
        Assert.Equal(Path.Combine(_dir, "00000004"), last);
        Assert.Equal(4, t2.Iteration);
    }

    private sealed class Recorder : ICouncilTrainingObserver
    {
        public List<CouncilStepStats> Stats { get; } = [];
        public bool CouncilSeen { get; private set; }
        public void OnStep(CouncilStepStats stats)
        {
            Stats.Add(stats);
            CouncilSeen |= stats.CouncilActive;
        }
        public void OnImages(long iteration, Tensor inputs, Tensor translations) => Assert.Equal(inputs.shape[0], translations.shape[1]);
        public void OnCheckpoint(long iteration, string prefix) { }
    }
}
