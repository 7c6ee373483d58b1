using Microsoft.Extensions.DependencyInjection;
using Pipeline.Infra;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Testing.ServiceBus;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>ScheduleAugmentation called as the timer calls it, with the schedule monitor's status.</summary>
public sealed class ScheduleAugmentationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Config = """
        {
          "batches": [
            { "name": "ffhq-trunc", "model": "models/stylegan2-ffhq-256.pt", "family": "styleGan2", "operation": "truncation", "count": 32, "truncation": 0.7, "seed": 100 },
            { "name": "celeba-v1-mix", "model": "models/stylegan1-celeba-128.pt", "family": "styleGan1", "operation": "styleMixing", "count": 8, "mixingCrossover": 4 },
            { "name": "../escape", "model": "models/x.pt", "count": 1 },
            { "name": "too-many", "model": "models/x.pt", "count": 1000000 }
          ]
        }
        """;

    [Fact]
    public async Task OneSlotIsOneBatchedSendThroughTheServiceBusSdkAndAReplayIsDroppedAsDuplicates()
    {
        await using var broker = ServiceBusTestBroker.Start();
        // The queues come from the functions' options and InfraFactory with a connection string, as `functions --local`
        // or an emulator setup would (the test host's in-process queues are replaced by the production factory).
        await using var host = new FunctionsHost(
            settings: c => c["Pipeline:Queue:ConnectionString"] = broker.ConnectionString,
            services: s => s.AddSingleton<Func<string, IJobQueue>>(sp => name => InfraFactory.CreateJobQueue(sp.GetRequiredService<Pipeline.Functions.Services.InfraSettings>().For(name))));
        await host.Store.PutBytesAsync("datasets/augmentation-schedule.json", System.Text.Encoding.UTF8.GetBytes(Config), cancellationToken: Ct);
        var slot = new DateTimeOffset(2026, 11, 23, 3, 0, 0, TimeSpan.Zero);

        Assert.Equal(2, (await host.TimerAsync(slot.AddDays(-1), slot)).Jobs.Count);
        var counters = broker.Counters("jobs-augment");
        Assert.Equal((1, 2), (counters.Transfers, counters.Enqueued)); // two jobs, one batched transfer
        // A replay while the jobs are still queued sends again (the status says queued); Service Bus drops both by MessageId.
        await host.TimerAsync(slot.AddDays(-1), slot);
        Assert.Equal((2, 2, 2), (counters.Transfers, counters.Enqueued, counters.DuplicatesDropped));

        await using var q = new ServiceBusJobQueue(new ServiceBusOptions { ConnectionString = broker.ConnectionString, QueueName = "jobs-augment" });
        var got = await q.ReceiveAsync(10, TimeSpan.FromSeconds(5), cancellationToken: Ct);
        if (got.Count < 2) got = [.. got, .. await q.ReceiveAsync(10, TimeSpan.FromSeconds(5), cancellationToken: Ct)];
        Assert.Equal(2, got.Count);
        foreach (var m in got)
        {
            var env = JobEnvelope.Parse(m.Body.Span);
            Assert.Equal(env.JobId, m.MessageId);
            Assert.Equal(("Augmentation", "Augmentation", "timer"), (m.Subject, m.ApplicationProperties["kind"] as string, m.ApplicationProperties["source"] as string));
            Assert.Equal(JobEnvelope.ContentType, m.ContentType);
            await q.CompleteAsync(m, Ct);
        }
    }

    [Fact]
    public async Task EnqueuesOneJobPerValidBatchAndIsIdempotentPerSlot()
    {
        await using var host = new FunctionsHost(queueOptions: new Infra.Queue.QueueEntityOptions { RequiresDuplicateDetection = false });
        await host.Store.PutBytesAsync("datasets/augmentation-schedule.json", System.Text.Encoding.UTF8.GetBytes(Config), cancellationToken: Ct);
        var slot = new DateTimeOffset(2026, 11, 23, 3, 0, 0, TimeSpan.Zero);

        var first = await host.TimerAsync(slot.AddDays(-1), slot);
        Assert.Equal(slot, first.Slot);
        Assert.Equal(2, first.Jobs.Count);
        Assert.NotEmpty(System.Text.Json.JsonSerializer.Serialize(first)); // the worker serializes return values for the host
        var messages = await host.PeekAllAsync("jobs-augment");
        Assert.Equal(2, messages.Count);
        var jobs = messages.Select(m => JobEnvelope.Parse(m.Body.Span)).Select(e => Assert.IsType<AugmentationBatchJob>(e.Job)).OrderBy(j => j.BatchId).ToList();
        Assert.Equal("celeba-v1-mix-20261123-0300", jobs[0].BatchId);
        Assert.Equal(StyleGanFamily.StyleGan1, jobs[0].Family);
        Assert.Equal(AugmentationOp.StyleMixing, jobs[0].Operation);
        Assert.Equal(4, jobs[0].MixingCrossover);
        Assert.Equal("ffhq-trunc-20261123-0300", jobs[1].BatchId);
        Assert.Equal(0.7, jobs[1].Truncation);
        Assert.Equal(32, jobs[1].Count);
        var logs = first.Notes;
        Assert.Contains(logs, l => l.Contains("Skipped batch '../escape'", StringComparison.Ordinal));
        Assert.Contains(logs, l => l.Contains("Skipped batch 'too-many'", StringComparison.Ordinal));

        // The workers take the jobs; a replay of the same slot (host restart, overlapping instances) adds nothing.
        foreach (var m in messages)
            await host.Store.PutJsonAsync(BlobLayout.StatusDocument(m.MessageId),
                new JobStatus { JobId = m.MessageId, Kind = JobKind.Augmentation, State = JobState.Running, UpdatedAt = DateTimeOffset.UtcNow }, cancellationToken: Ct);
        var q = host.Queue("jobs-augment");
        foreach (var m in await q.ReceiveAsync(10, TimeSpan.FromSeconds(1), cancellationToken: Ct)) await q.CompleteAsync(m, Ct);
        var replay = await host.TimerAsync(slot.AddDays(-1), slot);
        Assert.All(replay.Jobs, j => Assert.Equal(Infra.Queue.PublishOutcome.AlreadyKnown, j.Outcome));
        Assert.Empty(await host.PeekAllAsync("jobs-augment"));
        Assert.Contains(host.Logs.Lines, l => l.Contains("Skipped batch '../escape'", StringComparison.Ordinal));

        // The next slot is new work.
        await host.TimerAsync(slot, slot.AddDays(1));
        var next = await host.PeekAllAsync("jobs-augment");
        Assert.Equal(2, next.Count);
        Assert.Empty(next.Select(m => m.MessageId).Intersect(messages.Select(m => m.MessageId)));
    }

    [Fact]
    public async Task MissingOrBrokenConfigEnqueuesNothingAndDoesNotFailTheInvocation()
    {
        await using var host = new FunctionsHost();
        var slot = new DateTimeOffset(2026, 11, 23, 3, 0, 0, TimeSpan.Zero);
        var result = await host.TimerAsync(slot.AddDays(-1), slot);
        Assert.Contains(result.Notes, l => l.Contains("No augmentation config", StringComparison.Ordinal));

        await host.Store.PutBytesAsync("datasets/augmentation-schedule.json", "{ not json"u8.ToArray(), cancellationToken: Ct);
        result = await host.TimerAsync(slot.AddDays(-1), slot);
        Assert.Contains(result.Notes, l => l.Contains("not valid JSON", StringComparison.Ordinal));
        Assert.Empty(result.Jobs);
        Assert.Empty(await host.PeekAllAsync("jobs-augment"));
    }

    [Fact]
    public void WithoutAMonitorStatusTheSlotIsTheCurrentMinute()
    {
        var now = new DateTimeOffset(2026, 11, 23, 3, 0, 41, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 3, 0, 0, TimeSpan.Zero), ScheduleAugmentation.SlotOf(null, now));
        Assert.Equal(new DateTimeOffset(2026, 11, 23, 3, 0, 0, TimeSpan.Zero), ScheduleAugmentation.SlotOf(new Microsoft.Azure.Functions.Worker.TimerInfo(), now));
    }
}
