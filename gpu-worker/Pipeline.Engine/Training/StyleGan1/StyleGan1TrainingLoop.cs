using System.Diagnostics;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Training.StyleGan1;

/// <summary>train.py's outer loop settings (spec section 11.1/11.3); defaults are the reference's.</summary>
public sealed record StyleGan1LoopOptions
{
    /// <summary>--init_size: the first trained resolution (8 in the reference).</summary>
    public int InitSize { get; init; } = 8;

    /// <summary>--max_size: the last resolution; it must be one the networks have (4 * 2^MaxStep).</summary>
    public int MaxSize { get; init; } = 1024;

    /// <summary>--phase: real images per half-phase (fade-in, then stable); 600,000 in the reference.</summary>
    public long Phase { get; init; } = 600_000;

    /// <summary>Learning rate per resolution (train.py's adjust_lr from its table); see <see cref="StyleGan1TrainingLoop.ReferenceLr"/>.</summary>
    public Func<int, double> LrFor { get; init; } = StyleGan1TrainingLoop.ReferenceLr(false);

    /// <summary>Batch per resolution; see <see cref="StyleGan1TrainingLoop.ReferenceBatch"/>.</summary>
    public Func<int, int> BatchFor { get; init; } = StyleGan1TrainingLoop.ReferenceBatch(false);

    /// <summary>Iterations (train.py: 3,000,000).</summary>
    public long Iterations { get; init; } = 3_000_000;

    /// <summary>Stop early (with a checkpoint) after this much wall-clock time.</summary>
    public TimeSpan? MaxTime { get; init; }

    public string OutDir { get; init; } = "training/stylegan1";

    /// <summary>train.py samples g_running every 100 iterations; 0 turns it off.</summary>
    public int SampleEvery { get; init; } = 100;

    /// <summary>train.py writes a bare g_running file every 10,000 iterations; 0 turns it off.</summary>
    public int CheckpointEvery { get; init; } = 10_000;

    public int NSample { get; init; } = 16;
    public long SampleSeed { get; init; } = 1234;

    /// <summary>Seeds torch's generator (weights, codes, noise) and the C# Random (data order, flips, mixing draws).</summary>
    public long Seed { get; init; }
}

/// <summary>What one iteration did (all host values, so the observer never holds tensors).</summary>
public sealed record StyleGan1StepStats(long Iteration, int Step, int Resolution, double Alpha, int Batch, double D, double G, double GradPenalty, double RealScore, double FakeScore);

public interface IStyleGan1TrainingObserver
{
    void OnStep(StyleGan1StepStats stats) { }

    /// <summary>A g_running sample batch [N, 3, H, W] in [-1, 1] at the current step/alpha; valid during the call only.</summary>
    void OnSample(long iteration, int resolution, Tensor samples) { }

    void OnCheckpoint(long iteration, string path) { }

    /// <summary>A new resolution starts (after its checkpoint was written).</summary>
    void OnPhase(long iteration, int step, int resolution) { }
}

/// <summary>
/// train.py's progressive loop (spec 11.3) around <see cref="StyleGan1Trainer"/>: the step/alpha schedule from the
/// count of real images, a data source and learning rates per resolution, the 5-key checkpoint at each phase change.
/// </summary>
public static class StyleGan1TrainingLoop
{
    /// <summary>train.py's learning rates: with --sched {128: 0.0015, 256: 0.002, 512/1024: 0.003}, else 0.001.</summary>
    public static Func<int, double> ReferenceLr(bool sched) => res => sched && res >= 128
        ? res switch { 128 => 0.0015, 256 => 0.002, _ => 0.003 }
        : 0.001;

    /// <summary>train.py's batch sizes: with --sched {4: 512, 8: 256, 16: 128, 32: 64, 64+: 32}, else 32.</summary>
    public static Func<int, int> ReferenceBatch(bool sched) => res => sched && res <= 32 ? 2048 / res : 32;

    /// <summary>The five-key dict of train.py (spec 10.1), state_dicts in the reference's order, on the CPU.</summary>
    public static OrderedDictionary<string, object?> CheckpointTree(StyledGenerator generator, Discriminator discriminator, StyledGenerator running, StyleGan1Trainer trainer) => new()
    {
        ["generator"] = StateDict(generator),
        ["discriminator"] = StateDict(discriminator),
        ["g_optimizer"] = WithMult(trainer.GOptimizer.StateDict(), trainer.Options),
        ["d_optimizer"] = trainer.DOptimizer.StateDict(),
        ["g_running"] = StateDict(running),
    };

    /// <summary>Runs until <see cref="StyleGan1LoopOptions.Iterations"/> or the time limit; returns the last 5-key checkpoint's path.</summary>
    /// <param name="dataFor">The real images at a resolution (train.py's per-size lmdb); called once per resolution, disposed by the loop.</param>
    public static string Run(StyledGenerator generator, Discriminator discriminator, StyledGenerator running, StyleGan1Trainer trainer,
        Func<int, ImageTensorDataset> dataFor, StyleGan1LoopOptions o, IStyleGan1TrainingObserver? observer = null, CancellationToken ct = default)
    {
        int initStep = Log2(o.InitSize) - 2, maxStep = Log2(o.MaxSize) - 2;
        if (initStep < 0 || initStep > maxStep) throw new ArgumentException($"--init-size {o.InitSize} must be a power of two from 4 to --max-size {o.MaxSize}");
        if (maxStep > generator.Config.MaxStep || maxStep > discriminator.MaxStep)
            throw new ArgumentException($"--max-size {o.MaxSize} needs {maxStep + 1} levels; the networks have {generator.Config.Levels} (G) and {discriminator.Config.Blocks} (D)");
        Directory.CreateDirectory(o.OutDir);
        var device = generator.Device;
        var random = new Random(unchecked((int)o.Seed));
        var sampleGen = new torch.Generator((ulong)o.SampleSeed);
        using var sampleZ = randn([o.NSample, generator.Config.CodeDim], generator: sampleGen).to(device);
        using var log = new MetricLog(Path.Combine(o.OutDir, "metrics.jsonl"));
        var clock = Stopwatch.StartNew();

        int step = initStep;
        int Resolution() => 4 << step;
        ImageTensorDataset? data = null;
        IEnumerator<long[]>? batches = null;
        void Switch()
        {
            batches?.Dispose();
            data?.Dispose();
            data = dataFor(Resolution());
            if (data.Size != Resolution()) throw new InvalidDataException($"data for {Resolution()} px has {data.Size} px images");
            batches = data.Batches(o.BatchFor(Resolution()), random).GetEnumerator();
            SetLr(trainer, o.LrFor(Resolution()));
        }
        Switch();
        long usedSample = 0;
        bool finalProgress = false;
        string last = "";
        try
        {
            for (long i = 0; i < o.Iterations; i++)
            {
                ct.ThrowIfCancellationRequested();
                if (o.MaxTime is { } max && clock.Elapsed > max) break;
                // A fresh run trains its first resolution without fade-in (nothing to fade from), as train.py does.
                double alpha = Math.Min(1, (usedSample + 1) / (double)o.Phase);
                if (step == initStep || finalProgress) alpha = 1;
                if (usedSample > o.Phase * 2)
                {
                    usedSample = 0;
                    int ckptStep;
                    if (step + 1 > maxStep) { finalProgress = true; ckptStep = maxStep + 1; }
                    else { step++; alpha = 0; ckptStep = step; }
                    // Saved before the learning rates are reset, so the optimiser groups hold the old rates (spec 10.3).
                    last = Path.Combine(o.OutDir, $"train_step-{ckptStep}.model");
                    TorchFile.Save(last, CheckpointTree(generator, discriminator, running, trainer));
                    observer?.OnCheckpoint(i, last);
                    Switch();
                    observer?.OnPhase(i, step, Resolution());
                }

                using var scope = NewDisposeScope();
                batches!.MoveNext();
                var real = data!.Batch(batches.Current, random, hflip: true, device: device);
                usedSample += real.shape[0];
                var (dCodes, gCodes) = trainer.SampleCodes(real.shape[0]);
                var ds = trainer.DiscriminatorStep(real, dCodes, step, alpha);
                var gs = trainer.GeneratorStep(gCodes, step, alpha);
                var stats = new StyleGan1StepStats(i, step, Resolution(), alpha, (int)real.shape[0],
                    ds.Values.DiscLoss.item<float>(), gs.Loss.item<float>(), ds.Values.GradPenalty.item<float>(),
                    ds.Values.RealPredict.item<float>(), ds.Values.FakePredict.item<float>());
                log.Write(new Dictionary<string, object?>
                {
                    ["iter"] = i, ["step"] = step, ["resolution"] = Resolution(), ["alpha"] = alpha, ["batch"] = stats.Batch,
                    ["d"] = stats.D, ["g"] = stats.G, ["gp"] = stats.GradPenalty, ["real_score"] = stats.RealScore, ["fake_score"] = stats.FakeScore,
                    ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2),
                });
                observer?.OnStep(stats);

                if (o.SampleEvery > 0 && (i + 1) % o.SampleEvery == 0)
                {
                    using var _ = no_grad();
                    // Same noise every time, so successive sheets differ only by what the weights learned.
                    var noise = running.RandomNoise(o.NSample, step, new torch.Generator((ulong)o.SampleSeed + 1), device);
                    var sample = StyleGan1Trainer.Generate(running, new StyleGan1Codes([sampleZ]), step, alpha, noise);
                    observer?.OnSample(i + 1, Resolution(), sample);
                }
                if (o.CheckpointEvery > 0 && (i + 1) % o.CheckpointEvery == 0)
                {
                    var path = Path.Combine(o.OutDir, $"{i + 1:D6}.model");
                    TorchFile.Save(path, StateDict(running));
                    observer?.OnCheckpoint(i + 1, path);
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A failing iteration (or Ctrl+C) must not lose the run: a 14-minute CPU run once died on a libtorch assert
            // inside PixelNorm. The networks hold the last completed update (a failure mid-step may leave one step's
            // gradients or a partial EMA), saved in the usual layout, then the error goes on to the caller.
            last = Path.Combine(o.OutDir, "last.model");
            TorchFile.Save(last, CheckpointTree(generator, discriminator, running, trainer));
            observer?.OnCheckpoint(-1, last);
            throw;
        }
        finally
        {
            batches?.Dispose();
            data?.Dispose();
        }
        // train.py has no final save (it runs to its iteration count); a stopped run keeps its work in the same layout.
        last = Path.Combine(o.OutDir, "last.model");
        TorchFile.Save(last, CheckpointTree(generator, discriminator, running, trainer));
        observer?.OnCheckpoint(-1, last);
        return last;
    }

    /// <summary>
    /// Builds the three networks of a fresh run on <paramref name="device"/>: g_running starts as an exact copy of the
    /// generator (train.py's accumulate(g_running, generator, 0)).
    /// </summary>
    public static (StyledGenerator Generator, Discriminator Discriminator, StyledGenerator Running) Create(
        StyleGan1GeneratorConfig g, StyleGan1DiscriminatorConfig d, Device device)
    {
        var generator = new StyledGenerator(g);
        var discriminator = new Discriminator(d);
        var running = new StyledGenerator(g);
        generator.to(device);
        discriminator.to(device);
        running.to(device);
        running.eval();
        StyleGan1Losses.Accumulate(running, generator, 0);
        return (generator, discriminator, running);
    }

    /// <summary>train.py's adjust_lr: every group gets lr * its 'mult' (the mapping group: MappingLr / Lr = 0.01).</summary>
    private static void SetLr(StyleGan1Trainer trainer, double lr)
    {
        trainer.GOptimizer.SetLearningRate(0, lr);
        trainer.GOptimizer.SetLearningRate(1, lr * MappingMult(trainer.Options));
        trainer.DOptimizer.SetLearningRate(0, lr);
    }

    private static double MappingMult(StyleGan1TrainOptions o) => o.MappingLr / o.Lr;

    /// <summary>The reference's g_optimizer group 1 carries 'mult' (spec 10.3); ReferenceAdam's dict has no such key.</summary>
    private static OrderedDictionary<string, object?> WithMult(OrderedDictionary<string, object?> sd, StyleGan1TrainOptions o)
    {
        if (sd["param_groups"] is List<object?> { Count: 2 } groups && groups[1] is Dictionary<string, object?> g1)
            g1["mult"] = MappingMult(o);
        return sd;
    }

    private static OrderedDictionary<string, object?> StateDict(nn.Module m)
    {
        var d = new OrderedDictionary<string, object?>();
        foreach (var (name, t, _) in StateDictOrder.Entries(m)) d[name] = t.detach().cpu();
        return d;
    }

    private static int Log2(int size)
    {
        if (size < 4 || (size & (size - 1)) != 0) throw new ArgumentException($"{size} is not a power of two >= 4");
        return (int)Math.Log2(size);
    }
}
