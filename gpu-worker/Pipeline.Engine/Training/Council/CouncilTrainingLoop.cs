using System.Diagnostics;
using Pipeline.Engine.Council;
using static TorchSharp.torch;

namespace Pipeline.Engine.Training.Council;

/// <summary>How long and how often: Council-GAN train.py's loop around <see cref="CouncilTrainer.Step"/>.</summary>
public sealed record CouncilLoopOptions
{
    public long Iterations { get; init; } = 1_500_000;
    public TimeSpan? MaxTime { get; init; }
    public string OutDir { get; init; } = "training/council";
    /// <summary>snapshot_save_iter.</summary>
    public int SnapshotEvery { get; init; } = 10_000;
    /// <summary>image_save_iter: translations of the fixed display inputs.</summary>
    public int ImageEvery { get; init; } = 1000;
    public int LogEvery { get; init; } = 1;
    /// <summary>Probability of RandomGrayscale (spec 7.1; 0.05 in the reference configs).</summary>
    public double GrayscaleP { get; init; } = 0.05;
    public long Seed { get; init; }
}

/// <summary>One iteration's scalars (means over members).</summary>
public sealed record CouncilStepStats(long Iteration, double Dis, double DisCouncil, double GenAdv, double GenCouncil, double GenTotal, double LearningRate, bool CouncilActive);

public interface ICouncilTrainingObserver
{
    void OnStep(CouncilStepStats stats);
    /// <summary>Inputs x_b [n,3,S,S] and every member's translation [C, n, 3, S, S] (fixed z), all in [-1, 1], CPU.</summary>
    void OnImages(long iteration, Tensor inputs, Tensor translations);
    void OnCheckpoint(long iteration, string prefix);
}

/// <summary>
/// Council-GAN's train.py loop for a b2a council: batches x_a (domain A, the target style) and x_b (domain B, the
/// inputs) with RandomGrayscale + horizontal flip, then D, council-D and G steps and StepLR (<see cref="CouncilTrainer.Step"/>),
/// metric records (metrics.jsonl), image grids and snapshots in the reference naming.
/// </summary>
public static class CouncilTrainingLoop
{
    public static string Run(CouncilTrainer trainer, CouncilConfig config, ImageTensorDataset domainA, ImageTensorDataset domainB,
        CouncilLoopOptions options, ICouncilTrainingObserver? observer = null, CancellationToken ct = default)
    {
        if (domainA.Size != config.NewSize || domainB.Size != config.NewSize)
            throw new ArgumentException($"datasets are {domainA.Size}/{domainB.Size} px, the config's new_size is {config.NewSize}");
        Directory.CreateDirectory(options.OutDir);
        var random = new Random(unchecked((int)(options.Seed * 7919 + trainer.Iteration)));
        using var zGenerator = new Generator((ulong)(options.Seed + trainer.Iteration));
        var chooser = new RandomCouncilChooser(unchecked((int)options.Seed + trainer.Iteration));
        var device = trainer.Members[0].Gen.parameters().First().device;
        int batch = config.Train.BatchSize;
        using var log = new MetricLog(Path.Combine(options.OutDir, "metrics.jsonl"));
        var clock = Stopwatch.StartNew();
        using var batchesA = domainA.Batches(batch, random).GetEnumerator();
        using var batchesB = domainB.Batches(batch, random).GetEnumerator();
        using var displayB = domainB.Batch([.. Enumerable.Range(0, (int)Math.Min(4, domainB.Count)).Select(i => (long)i)], random, hflip: false, device: device);
        using var displayZ = trainer.SampleStyle(1, new Generator((ulong)options.Seed + 99));
        string? last = null;
        while (trainer.Iteration < options.Iterations && !ct.IsCancellationRequested && (options.MaxTime is null || clock.Elapsed < options.MaxTime))
        {
            using var scope = NewDisposeScope();
            batchesA.MoveNext();
            batchesB.MoveNext();
            var xA = Augment(domainA.Batch(batchesA.Current, random, hflip: true, device: device), random, options.GrayscaleP);
            var xB = Augment(domainB.Batch(batchesB.Current, random, hflip: true, device: device), random, options.GrayscaleP);
            var zDis = trainer.SampleStyle(batch, zGenerator);
            var zCouncil = trainer.SampleStyle(batch, zGenerator);
            var zGen = trainer.SampleStyle(batch, zGenerator);
            _ = trainer.SampleStyle(batch, zGenerator); // z_b of gen_update: drawn, unused for b2a (keeps the stream as the reference's)
            long it = trainer.Iteration;
            var (d, c, g) = trainer.Step(xA, xB, zDis, zCouncil, zGen, chooser);
            var stats = new CouncilStepStats(it, d.Loss.mean().item<float>(), c.Active ? c.Total.mean().item<float>() : 0,
                g.Adv.mean().item<float>(), g.CouncilActive ? g.CouncilRaw.mean().item<float>() : 0, g.Total.mean().item<float>(),
                trainer.LearningRate, c.Active);
            observer?.OnStep(stats);
            if (it % options.LogEvery == 0)
                log.Write(new Dictionary<string, object?>
                {
                    ["iter"] = it, ["dis"] = stats.Dis, ["dis_council"] = stats.DisCouncil, ["gen_adv"] = stats.GenAdv,
                    ["gen_council"] = stats.GenCouncil, ["gen_total"] = stats.GenTotal, ["lr"] = stats.LearningRate,
                    ["time_s"] = Math.Round(clock.Elapsed.TotalSeconds, 3),
                });
            if (trainer.Iteration % options.ImageEvery == 0) Images(trainer, displayB, displayZ, observer);
            if (trainer.Iteration % options.SnapshotEvery == 0)
            {
                last = CouncilTrainingSetup.Save(options.OutDir, trainer, config);
                observer?.OnCheckpoint(trainer.Iteration, last);
            }
        }
        if (last is null || !last.EndsWith(CouncilTrainingSetup.Step8(trainer.Iteration), StringComparison.Ordinal))
        {
            last = CouncilTrainingSetup.Save(options.OutDir, trainer, config);
            observer?.OnCheckpoint(trainer.Iteration, last);
        }
        Images(trainer, displayB, displayZ, observer);
        return last;
    }

    /// <summary>RandomGrayscale(p): ITU-R 601 luma (PIL's "L" weights) copied to all three channels, per image.</summary>
    public static Tensor Augment(Tensor x, Random random, double p)
    {
        if (p <= 0) return x;
        var gray = x.shape[0] > 0 ? Enumerable.Range(0, (int)x.shape[0]).Select(_ => random.NextDouble() < p).ToArray() : [];
        if (!gray.Any(v => v)) return x;
        var luma = (x[.., 0..1] * 0.299 + x[.., 1..2] * 0.587 + x[.., 2..3] * 0.114).expand_as(x);
        var mask = tensor(gray).reshape(-1, 1, 1, 1).to(x.device);
        return where(mask, luma, x);
    }

    private static void Images(CouncilTrainer trainer, Tensor xB, Tensor z, ICouncilTrainingObserver? observer)
    {
        if (observer is null) return;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var zz = z.expand(xB.shape[0], -1, -1, -1).to(xB.device);
        var outs = stack(trainer.Members.Select(m => m.Gen.forward(xB, zz)).ToArray());
        observer.OnImages(trainer.Iteration, xB.cpu(), outs.cpu());
    }
}
