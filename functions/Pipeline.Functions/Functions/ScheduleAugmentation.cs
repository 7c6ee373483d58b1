using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Pipeline.Functions.Services;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions;

/// <summary>One batch of the augmentation schedule (an entry of the config blob).</summary>
public sealed record AugmentationScheduleEntry
{
    /// <summary>Target dataset; batches are named "&lt;name&gt;-&lt;slot&gt;" under datasets/.</summary>
    public required string Name { get; init; }
    /// <summary>Checkpoint under models/.</summary>
    public required string Model { get; init; }
    /// <summary>StyleGAN v1 or v2.</summary>
    public StyleGanFamily Family { get; init; } = StyleGanFamily.StyleGan2;
    /// <summary>Sampling, truncation, style mixing, SOAT panorama or blend.</summary>
    public AugmentationOp Operation { get; init; } = AugmentationOp.Sample;
    /// <summary>Images per batch.</summary>
    public int Count { get; init; } = 16;
    /// <summary>Truncation psi.</summary>
    public double Truncation { get; init; } = 1.0;
    /// <summary>Style-mixing crossover layer (null = random per image).</summary>
    public int? MixingCrossover { get; init; }
    /// <summary>SOAT panorama width in latents.</summary>
    public int PanoramaLatents { get; init; } = 3;
    /// <summary>SOAT blend: the second checkpoint.</summary>
    public string? SecondModel { get; init; }
    /// <summary>Output side (null = native).</summary>
    public int? Size { get; init; }
    /// <summary>Base seed; each slot offsets it so slots produce new images.</summary>
    public long Seed { get; init; }
}

/// <summary>The augmentation config blob: <c>{ "batches": [ ... ] }</c>.</summary>
public sealed record AugmentationSchedule
{
    /// <summary>Batches enqueued at every schedule slot.</summary>
    public IReadOnlyList<AugmentationScheduleEntry> Batches { get; init; } = [];
}

/// <summary>A batch one schedule slot enqueued.</summary>
public sealed record ScheduledBatch(string BatchId, string JobId, PublishOutcome Outcome);

/// <summary>What one timer invocation did: its slot, the batches, and the lines it logged about skipped or missing config.</summary>
public sealed record ScheduleAugmentationResult(DateTimeOffset Slot, IReadOnlyList<ScheduledBatch> Jobs, IReadOnlyList<string> Notes);

/// <summary>
/// ScheduleAugmentation: timer trigger (CRON in app setting AugmentationSchedule). Enqueues one augmentation job per
/// configured batch, idempotent per schedule slot: the slot is part of the batch id, hence of the deterministic job id,
/// so a replayed or overlapping invocation for the same slot publishes nothing new.
/// </summary>
public sealed class ScheduleAugmentation(IBlobStore store, JobPublisher publisher, IOptions<AugmentationOptions> augmentation, TimeProvider time, ILogger<ScheduleAugmentation> log)
{
    /// <summary>Function name.</summary>
    public const string Name = "ScheduleAugmentation";
    /// <summary>The app setting holding the NCRONTAB schedule (the bicep sets it).</summary>
    public const string ScheduleSetting = "AugmentationSchedule";

    private readonly AugmentationOptions options = augmentation.Value;

    /// <summary>Handles one timer invocation.</summary>
    [Function(Name)]
    public async Task<ScheduleAugmentationResult> RunAsync(
        [TimerTrigger("%" + ScheduleSetting + "%", UseMonitor = true, RunOnStartup = false)] TimerInfo? timer,
        CancellationToken cancellationToken)
    {
        var notes = new List<string>();
        void Note(string line)
        {
            notes.Add(line);
            log.LogInformation("{Line}", line);
        }
        var slot = SlotOf(timer, time.GetUtcNow());
        AugmentationSchedule? schedule;
        try
        {
            schedule = await store.GetJsonAsync<AugmentationSchedule>(options.ConfigBlob, cancellationToken);
        }
        catch (JsonException ex)
        {
            // A broken config is an operator error: log it and succeed, retrying cannot fix it.
            Note($"Augmentation config {options.ConfigBlob} is not valid JSON: {ex.Message}");
            return new ScheduleAugmentationResult(slot, [], notes);
        }
        if (schedule is null)
        {
            Note($"No augmentation config at {options.ConfigBlob}; nothing to enqueue.");
            return new ScheduleAugmentationResult(slot, [], notes);
        }

        var planned = new List<(AugmentationBatchJob Job, JobEnvelope Envelope)>();
        foreach (var entry in schedule.Batches)
        {
            var error = Check(entry);
            if (error is not null)
            {
                Note($"Skipped batch '{entry.Name}': {error}");
                continue;
            }
            var job = ToJob(entry, slot);
            planned.Add((job, JobEnvelope.Create(job, "timer", time.GetUtcNow())));
        }
        // One batched send for the whole slot.
        var outcomes = await publisher.PublishManyAsync(planned.Select(p => p.Envelope).ToList(), cancellationToken);
        var jobs = new List<ScheduledBatch>();
        for (var i = 0; i < planned.Count; i++)
        {
            var (job, envelope) = planned[i];
            log.LogInformation("{BatchId}: job {JobId} {Outcome}", job.BatchId, envelope.JobId, outcomes[i].ToString().ToLowerInvariant());
            jobs.Add(new ScheduledBatch(job.BatchId, envelope.JobId, outcomes[i]));
        }
        return new ScheduleAugmentationResult(slot, jobs, notes);
    }

    /// <summary>
    /// The schedule slot this invocation serves: the timer's ScheduleStatus.Next identifies the occurrence (a replay
    /// carries the same status); without a monitor status, the current minute.
    /// </summary>
    public static DateTimeOffset SlotOf(TimerInfo? timer, DateTimeOffset now)
    {
        if (timer?.ScheduleStatus is { } status && status.Next != default)
            return new DateTimeOffset(DateTime.SpecifyKind(status.Next, status.Next.Kind == DateTimeKind.Unspecified ? DateTimeKind.Utc : status.Next.Kind)).ToUniversalTime();
        return new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, TimeSpan.Zero);
    }

    /// <summary>The job of one entry for one slot.</summary>
    public static AugmentationBatchJob ToJob(AugmentationScheduleEntry entry, DateTimeOffset slot) => new()
    {
        Model = new BlobRef(entry.Model),
        BatchId = $"{entry.Name}-{slot.UtcDateTime:yyyyMMdd-HHmm}",
        Family = entry.Family,
        Operation = entry.Operation,
        Count = entry.Count,
        Seed = entry.Seed + slot.ToUnixTimeSeconds() / 60,
        Truncation = entry.Truncation,
        MixingCrossover = entry.MixingCrossover,
        PanoramaLatents = entry.PanoramaLatents,
        SecondModel = entry.SecondModel is null ? null : new BlobRef(entry.SecondModel),
        Size = entry.Size,
    };

    private static string? Check(AugmentationScheduleEntry e)
    {
        if (!BlobNames.IsSafeId(e.Name, out var why) || e.Name.Length > 100) return $"name: {why}";
        if (!e.Model.StartsWith(BlobLayout.Models + "/", StringComparison.Ordinal) || !BlobNames.IsSafeRelative(e.Model, out _)) return "model must be a path under models/";
        if (JobLimits.CheckAugmentationCount(e.Count) is { } bad) return bad;
        if (e.Truncation is < 0 or > 2 || double.IsNaN(e.Truncation)) return "truncation must be in 0..2";
        if (e.PanoramaLatents is < 2 or > 16) return "panoramaLatents must be in 2..16";
        if (e.Size is < 16 or > 2048) return "size must be in 16..2048";
        if (e.Operation == AugmentationOp.SoatBlend && e.SecondModel is null) return "soatBlend needs secondModel";
        if (e.SecondModel is not null && (!e.SecondModel.StartsWith(BlobLayout.Models + "/", StringComparison.Ordinal) || !BlobNames.IsSafeRelative(e.SecondModel, out _)))
            return "secondModel must be a path under models/";
        return null;
    }
}
