using System.Diagnostics;
using System.Globalization;
using Pipeline.Engine.Metrics.Records;
using static TorchSharp.torch;
using Pipeline.Metrics;

namespace Pipeline.Engine.Training.StyleGan2;

/// <summary>How long and how often: train.py's loop around <see cref="StyleGan2Trainer.Step"/>.</summary>
public sealed record StyleGan2LoopOptions
{
    /// <summary>Stop when the trainer's iteration reaches this (train.py's --iter).</summary>
    public long Iterations { get; init; } = 800_000;
    /// <summary>Also stop after this much wall-clock time (then a final checkpoint is written).</summary>
    public TimeSpan? MaxTime { get; init; }
    public string OutDir { get; init; } = "training";
    public int SampleEvery { get; init; } = 100;
    public int CheckpointEvery { get; init; } = 10_000;
    public int LogEvery { get; init; } = 1;
    /// <summary>n_sample: the fixed z of the sample grids (drawn once from <see cref="SampleSeed"/>).</summary>
    public int NSample { get; init; } = 16;
    public long SampleSeed { get; init; } = 1234;
    /// <summary>Mapped z averaged into the final checkpoint's latent_avg (truncation centre).</summary>
    public int LatentAvgSamples { get; init; } = 4096;
    /// <summary>Run <see cref="Evaluate"/> every this many iterations (0: only at the end, when Evaluate is set).</summary>
    public int EvaluateEvery { get; init; }
    /// <summary>
    /// Metric evaluations of the current g_ema (FID, proxies); each record is appended to
    /// <c>&lt;out&gt;/metric-&lt;name&gt;.jsonl</c>, one line per evaluation as NVlabs' training loops write them.
    /// </summary>
    public Func<StyleGan2Trainer, IReadOnlyList<MetricRecord>>? Evaluate { get; init; }
}

/// <summary>What the loop reports; the worker turns samples into PNGs and progress into bars.</summary>
public interface IStyleGan2TrainingObserver
{
    void OnStep(StyleGan2StepStats stats);
    /// <summary>g_ema on the fixed sample z (random noise off, stored buffers), [n, 3, S, S] in [-1, 1], CPU.</summary>
    void OnSample(long iteration, Tensor samples);
    void OnCheckpoint(long iteration, string path);
    /// <summary>A metric evaluation during training (already appended to its metric-&lt;name&gt;.jsonl).</summary>
    void OnMetric(MetricRecord record) { }
}

/// <summary>train.py's outer loop: data, steps, metric records (metrics.jsonl), sample grids, checkpoints.</summary>
public static class StyleGan2TrainingLoop
{
    public static string CheckpointPath(string outDir, long iteration) =>
        Path.Combine(outDir, "checkpoint", iteration.ToString("D6", CultureInfo.InvariantCulture) + ".pt");

    /// <summary>Runs until <see cref="StyleGan2LoopOptions.Iterations"/>, the time limit or cancellation; returns the last checkpoint path.</summary>
    public static string Run(StyleGan2Trainer trainer, ImageTensorDataset data, StyleGan2LoopOptions options, IStyleGan2TrainingObserver? observer = null, CancellationToken ct = default)
    {
        if (data.Size != trainer.G.Config.Size)
            throw new ArgumentException($"dataset images are {data.Size} px, the model is {trainer.G.Config.Size} px");
        Directory.CreateDirectory(options.OutDir);
        var random = new Random(unchecked((int)(trainer.Options.Seed * 7919 + trainer.Iteration)));
        var device = trainer.G.Device;
        using var sampleZ = randn([options.NSample, trainer.G.Config.StyleDim], generator: new Generator((ulong)options.SampleSeed)).to(device).DetachFromDisposeScope();
        using var log = new MetricLog(Path.Combine(options.OutDir, "metrics.jsonl"));
        var clock = Stopwatch.StartNew();
        string? last = null;
        long? lastEvaluated = null;
        using var batches = data.Batches(trainer.Options.Batch, random).GetEnumerator();
        while (trainer.Iteration < options.Iterations && !ct.IsCancellationRequested
               && (options.MaxTime is null || clock.Elapsed < options.MaxTime))
        {
            batches.MoveNext();
            StyleGan2StepStats stats;
            using (var real = data.Batch(batches.Current, random, hflip: true, device: device))
                stats = trainer.Step(real);
            observer?.OnStep(stats);
            if (stats.Iteration % options.LogEvery == 0)
                log.Write(Record(stats, clock.Elapsed.TotalSeconds));
            if (stats.Iteration % options.SampleEvery == 0) Sample(trainer, sampleZ, stats.Iteration, observer);
            if (stats.Iteration % options.CheckpointEvery == 0)
                last = Checkpoint(trainer, options, observer, withLatentAvg: false);
            if (options.EvaluateEvery > 0 && stats.Iteration % options.EvaluateEvery == 0)
                lastEvaluated = Evaluate(trainer, options, observer);
        }
        // A final checkpoint at the iteration we stopped at, with latent_avg so generators can truncate.
        last = Checkpoint(trainer, options, observer, withLatentAvg: true);
        Sample(trainer, sampleZ, trainer.Iteration, observer);
        if (lastEvaluated != trainer.Iteration) Evaluate(trainer, options, observer);
        return last;
    }

    private static long? Evaluate(StyleGan2Trainer trainer, StyleGan2LoopOptions options, IStyleGan2TrainingObserver? observer)
    {
        if (options.Evaluate is null) return null;
        foreach (var record in options.Evaluate(trainer))
        {
            File.AppendAllText(Path.Combine(options.OutDir, $"metric-{record.Metric}.jsonl"), record.ToJsonLine() + "\n");
            observer?.OnMetric(record);
        }
        return trainer.Iteration;
    }

    private static Dictionary<string, object?> Record(StyleGan2StepStats s, double seconds) => new()
    {
        ["iter"] = s.Iteration, ["d"] = s.D, ["g"] = s.G, ["r1"] = s.DidR1 ? s.R1 : null,
        ["path"] = s.DidPath ? s.Path : null, ["mean_path"] = s.MeanPathLength,
        ["real_score"] = s.RealScore, ["fake_score"] = s.FakeScore,
        ["path_length"] = s.DidPath ? s.PathLength : null, ["time_s"] = Math.Round(seconds, 3),
    };

    private static void Sample(StyleGan2Trainer trainer, Tensor sampleZ, long iteration, IStyleGan2TrainingObserver? observer)
    {
        if (observer is null) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (img, _) = trainer.GEma.Forward([sampleZ], new Pipeline.Engine.StyleGan2.GenerateOptions { RandomizeNoise = false });
        observer.OnSample(iteration, img.cpu());
    }

    private static string Checkpoint(StyleGan2Trainer trainer, StyleGan2LoopOptions options, IStyleGan2TrainingObserver? observer, bool withLatentAvg)
    {
        var path = CheckpointPath(options.OutDir, trainer.Iteration);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var scope = NewDisposeScope();
        Tensor? latentAvg = null;
        if (withLatentAvg)
            using (no_grad())
                latentAvg = trainer.GEma.MeanLatent(randn([options.LatentAvgSamples, trainer.G.Config.StyleDim],
                    generator: new Generator((ulong)options.SampleSeed + 1)).to(trainer.G.Device));
        trainer.Save(path, latentAvg);
        observer?.OnCheckpoint(trainer.Iteration, path);
        return path;
    }
}
