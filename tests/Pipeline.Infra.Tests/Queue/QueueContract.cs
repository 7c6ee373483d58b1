using System.Diagnostics;
using System.Text;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;

namespace Pipeline.Infra.Tests.Queue;

/// <summary>
/// The one queue contract: every IJobQueue implementation runs these tests (the in-process queue, and the Service Bus
/// SDK against the test broker). Short locks keep them fast; 3 s (not 1 s) because CI runs test projects in parallel
/// on 2 cores, where opening a second AMQP client can take over a second.
/// </summary>
public abstract class QueueContract : IAsyncDisposable
{
    protected static readonly QueueEntityOptions Entity = new()
    {
        LockDuration = TimeSpan.FromSeconds(3),
        MaxDeliveryCount = 3,
        RequiresDuplicateDetection = true,
        DuplicateDetectionWindow = TimeSpan.FromMinutes(1),
    };

    private readonly List<IAsyncDisposable> _owned = [];

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;
    protected static readonly TimeSpan Wait = TimeSpan.FromSeconds(3);

    /// <summary>Creates the broker/queue (with <see cref="Entity"/>) and returns a client on it.</summary>
    protected abstract Task<IJobQueue> CreateQueueAsync();

    /// <summary>Another, independent client on the queue made by <see cref="CreateQueueAsync"/> (a second worker process).</summary>
    protected abstract Task<IJobQueue> OpenAnotherClientAsync();

    protected T Own<T>(T d) where T : IAsyncDisposable
    {
        _owned.Add(d);
        return d;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
        GC.SuppressFinalize(this);
    }

    protected static QueueMessage Msg(string id, string body = "job", DateTimeOffset? at = null, TimeSpan? ttl = null) => new()
    {
        MessageId = id,
        Body = Encoding.UTF8.GetBytes(body),
        ContentType = "application/json",
        Subject = "projection",
        CorrelationId = "corr-" + id,
        ApplicationProperties = new Dictionary<string, object?> { ["kind"] = "projection", ["schemaVersion"] = 1, ["big"] = 1L << 40, ["flag"] = true, ["ratio"] = 0.5 },
        ScheduledEnqueueTime = at,
        TimeToLive = ttl,
    };

    protected static async Task<ReceivedMessage> ReceiveOneAsync(IJobQueue q, SubQueue sub = SubQueue.None, TimeSpan? wait = null)
    {
        var got = await q.ReceiveAsync(1, wait ?? Wait, sub, Ct);
        Assert.True(got.Count == 1, $"expected a message on {q.Name}{(sub == SubQueue.DeadLetter ? "/$deadletterqueue" : "")} within {(wait ?? Wait).TotalSeconds:0.#} s");
        return got[0];
    }

    protected static async Task AssertEmptyAsync(IJobQueue q, SubQueue sub = SubQueue.None, double seconds = 0.3)
    {
        var got = await q.ReceiveAsync(1, TimeSpan.FromSeconds(seconds), sub, Ct);
        Assert.True(got.Count == 0, $"expected no message, got '{(got.Count > 0 ? got[0].MessageId : null)}'");
    }

    [Fact]
    public async Task Send_and_receive_round_trips_every_property_in_peek_lock()
    {
        var q = await CreateQueueAsync();
        var before = DateTimeOffset.UtcNow;
        await q.SendAsync(Msg("m1", "{\"a\":1}"), Ct);
        var m = await ReceiveOneAsync(q);
        Assert.Equal("m1", m.MessageId);
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(m.Body.Span));
        Assert.Equal("application/json", m.ContentType);
        Assert.Equal("projection", m.Subject);
        Assert.Equal("corr-m1", m.CorrelationId);
        Assert.Equal("projection", m.ApplicationProperties["kind"]);
        Assert.Equal(1, Convert.ToInt32(m.ApplicationProperties["schemaVersion"]));
        Assert.Equal(1L << 40, Convert.ToInt64(m.ApplicationProperties["big"]));
        Assert.Equal(true, m.ApplicationProperties["flag"]);
        Assert.Equal(0.5, Convert.ToDouble(m.ApplicationProperties["ratio"]));
        Assert.Equal(1, m.DeliveryCount);
        Assert.NotEqual(Guid.Empty, m.LockToken);
        Assert.True(m.LockedUntil > DateTimeOffset.UtcNow, "the lock must be in the future");
        Assert.True(m.SequenceNumber > 0);
        Assert.InRange(m.EnqueuedTime, before.AddSeconds(-2), DateTimeOffset.UtcNow.AddSeconds(2));
        await q.CompleteAsync(m, Ct);
        await AssertEmptyAsync(q);
    }

    [Fact]
    public async Task A_locked_message_is_invisible_to_other_receivers()
    {
        var q = await CreateQueueAsync();
        var other = await OpenAnotherClientAsync();
        await q.SendAsync(Msg("m1"), Ct);
        var m = await ReceiveOneAsync(q);
        await AssertEmptyAsync(other, seconds: 0.3);
        await q.CompleteAsync(m, Ct);
    }

    [Fact]
    public async Task Abandon_redelivers_with_a_higher_delivery_count_and_new_lock()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(Msg("m1"), Ct);
        var first = await ReceiveOneAsync(q);
        await q.AbandonAsync(first, Ct);
        var second = await ReceiveOneAsync(q);
        Assert.Equal("m1", second.MessageId);
        Assert.Equal(2, second.DeliveryCount);
        Assert.NotEqual(first.LockToken, second.LockToken);
        await q.CompleteAsync(second, Ct);
    }

    [Fact]
    public async Task Crash_before_complete_is_redelivered_after_lock_expiry_never_lost()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(Msg("m1"), Ct);
        // A consumer takes the message and dies without settling.
        var crashed = await OpenAnotherClientAsync();
        var taken = await ReceiveOneAsync(crashed);
        await crashed.DisposeAsync();

        // Generous upper bound: on a loaded 2-core CI machine the peer's expiry sweep can run late (a fixed 5 s wait
        // flaked); what matters is that the message comes back, and not before its lock ran out.
        var again = await ReceiveOneAsync(q, wait: Entity.LockDuration + TimeSpan.FromSeconds(12));
        var receivedAt = DateTimeOffset.UtcNow;
        Assert.Equal("m1", again.MessageId);
        Assert.Equal(2, again.DeliveryCount);
        Assert.True(receivedAt >= taken.LockedUntil - TimeSpan.FromMilliseconds(500), $"redelivered at {receivedAt:O}, before the lock ran out at {taken.LockedUntil:O}");
        Assert.NotEqual(taken.LockToken, again.LockToken);
        await q.CompleteAsync(again, Ct);
        await AssertEmptyAsync(q);
    }

    [Fact]
    public async Task Settling_after_the_lock_expired_fails_with_lock_lost()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(Msg("m1"), Ct);
        var m = await ReceiveOneAsync(q);
        await Task.Delay(Entity.LockDuration + TimeSpan.FromMilliseconds(300), Ct);
        await Assert.ThrowsAsync<MessageLockLostException>(() => q.CompleteAsync(m, Ct));
        var again = await ReceiveOneAsync(q);
        Assert.Equal(2, again.DeliveryCount);
        await q.CompleteAsync(again, Ct);
    }

    [Fact]
    public async Task Repeated_failure_ends_in_the_dead_letter_queue_with_a_reason()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(Msg("poison"), Ct);
        for (var i = 1; i <= Entity.MaxDeliveryCount; i++)
        {
            var m = await ReceiveOneAsync(q);
            Assert.Equal(i, m.DeliveryCount);
            await q.AbandonAsync(m, Ct);
        }
        await AssertEmptyAsync(q);
        var dead = await ReceiveOneAsync(q, SubQueue.DeadLetter);
        Assert.Equal("poison", dead.MessageId);
        Assert.Equal("MaxDeliveryCountExceeded", dead.DeadLetterReason);
        Assert.Equal(SubQueue.DeadLetter, dead.SubQueue);
        await q.CompleteAsync(dead, Ct);
        await AssertEmptyAsync(q, SubQueue.DeadLetter);
    }

    [Fact]
    public async Task Dead_letter_keeps_reason_and_description()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(Msg("bad"), Ct);
        var m = await ReceiveOneAsync(q);
        await q.DeadLetterAsync(m, "InvalidJob", "schema version 9 is not supported", Ct);
        await AssertEmptyAsync(q);
        var dead = await ReceiveOneAsync(q, SubQueue.DeadLetter);
        Assert.Equal("bad", dead.MessageId);
        Assert.Equal("InvalidJob", dead.DeadLetterReason);
        Assert.Equal("schema version 9 is not supported", dead.DeadLetterErrorDescription);
        Assert.Equal("projection", dead.ApplicationProperties["kind"]);
        await q.CompleteAsync(dead, Ct);
    }

    [Fact]
    public async Task Duplicate_send_is_delivered_once()
    {
        var q = await CreateQueueAsync();
        var env = JobEnvelope.Create(new ProjectionJob { Model = new BlobRef("models/g.pt"), Input = new BlobRef("uploads/a.png", "\"e1\"") });
        await q.SendAsync(JobMessages.ToMessage(env), Ct);
        await q.SendAsync(JobMessages.ToMessage(env with { CreatedAt = env.CreatedAt.AddSeconds(5) }), Ct); // retried enqueue
        var other = await OpenAnotherClientAsync();
        await other.SendAsync(JobMessages.ToMessage(env), Ct); // another function instance
        var m = await ReceiveOneAsync(q);
        Assert.Equal(env.JobId, m.MessageId);
        Assert.Equal(env.JobId, m.ReadEnvelope().JobId);
        await q.CompleteAsync(m, Ct);
        await AssertEmptyAsync(q, seconds: 0.5);
    }

    [Fact]
    public async Task Scheduled_message_is_invisible_until_its_time()
    {
        var q = await CreateQueueAsync();
        var at = DateTimeOffset.UtcNow.AddSeconds(1.2);
        await q.SendAsync(Msg("later", at: at), Ct);
        await AssertEmptyAsync(q, seconds: 0.5);
        var m = await ReceiveOneAsync(q, wait: TimeSpan.FromSeconds(3));
        Assert.True(DateTimeOffset.UtcNow >= at.AddMilliseconds(-50), "delivered before its scheduled time");
        await q.CompleteAsync(m, Ct);
    }

    [Fact]
    public async Task Expired_message_is_not_delivered()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(Msg("short", ttl: TimeSpan.FromMilliseconds(200)), Ct);
        await q.SendAsync(Msg("long", ttl: TimeSpan.FromMinutes(5)), Ct);
        await Task.Delay(500, Ct);
        var m = await ReceiveOneAsync(q);
        Assert.Equal("long", m.MessageId);
        Assert.Equal(TimeSpan.FromMinutes(5), m.TimeToLive);
        await q.CompleteAsync(m, Ct);
        await AssertEmptyAsync(q);
    }

    [Fact]
    public async Task Renew_lock_extends_it()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(Msg("m1"), Ct);
        var m = await ReceiveOneAsync(q);
        var first = m.LockedUntil;
        await Task.Delay(300, Ct);
        var renewed = await q.RenewLockAsync(m, Ct);
        Assert.True(renewed > first, $"renewed {renewed:O} not after {first:O}");
        Assert.Equal(renewed, m.LockedUntil);
        await q.CompleteAsync(m, Ct);
    }

    [Fact]
    public async Task Background_renewal_survives_work_longer_than_the_lock()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(Msg("long-work"), Ct);
        // Renew at a quarter of the lock so a busy CI machine has to miss three renewals in a row to lose it.
        var processor = q.CreateProcessor(new JobQueueProcessorOptions { ReceiveWait = Wait, MaxMessages = 1, RenewInterval = Entity.LockDuration / 4 });
        MessageOutcome? outcome = null;
        processor.Settled += (_, o, _) => outcome = o;
        var other = await OpenAnotherClientAsync();
        var stolen = 0;
        await processor.RunAsync(async (m, ct) =>
        {
            // 3x the lock duration; meanwhile nobody else may get the message.
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < Entity.LockDuration * 3)
                stolen += (await other.ReceiveAsync(1, TimeSpan.FromMilliseconds(250), SubQueue.None, ct)).Count;
        }, Ct);
        Assert.Equal(MessageOutcome.Completed, outcome);
        Assert.Equal(0, stolen);
        await AssertEmptyAsync(q, seconds: Entity.LockDuration.TotalSeconds + 0.5);
    }

    [Fact]
    public async Task Processor_dead_letters_poison_at_once_and_retries_failures_until_the_dlq()
    {
        var q = await CreateQueueAsync();
        await q.SendAsync(new QueueMessage { MessageId = "garbage", Body = "not json"u8.ToArray() }, Ct);
        await q.SendAsync(Msg("always-fails"), Ct);
        var outcomes = new List<(string, MessageOutcome)>();
        var processor = q.CreateProcessor(new JobQueueProcessorOptions { ReceiveWait = TimeSpan.FromSeconds(1), MaxMessages = 1 + Entity.MaxDeliveryCount });
        processor.Settled += (m, o, _) => outcomes.Add((m.MessageId, o));
        await processor.RunAsync((m, _) =>
        {
            if (m.MessageId == "garbage") m.ReadEnvelope(); // throws InvalidJobException
            throw new InvalidOperationException("GPU fell over");
        }, Ct);
        Assert.Contains(("garbage", MessageOutcome.DeadLettered), outcomes);
        Assert.Equal(Entity.MaxDeliveryCount, outcomes.Count(o => o == ("always-fails", MessageOutcome.Abandoned)));
        var dead = new Dictionary<string, ReceivedMessage>();
        for (var i = 0; i < 2; i++)
        {
            var d = await ReceiveOneAsync(q, SubQueue.DeadLetter);
            dead[d.MessageId] = d;
            await q.CompleteAsync(d, Ct);
        }
        Assert.Equal("InvalidJob", dead["garbage"].DeadLetterReason);
        Assert.Contains("not a valid job envelope", dead["garbage"].DeadLetterErrorDescription);
        Assert.Equal("MaxDeliveryCountExceeded", dead["always-fails"].DeadLetterReason);
    }

    [Fact]
    public async Task Receive_waits_at_most_max_wait_and_returns_batches()
    {
        var q = await CreateQueueAsync();
        var sw = Stopwatch.StartNew();
        Assert.Empty(await q.ReceiveAsync(5, TimeSpan.FromMilliseconds(400), SubQueue.None, Ct));
        Assert.InRange(sw.Elapsed, TimeSpan.FromMilliseconds(350), TimeSpan.FromSeconds(3));
        for (var i = 0; i < 3; i++) await q.SendAsync(Msg("b" + i), Ct);
        var got = new List<ReceivedMessage>();
        while (got.Count < 3)
        {
            var batch = await q.ReceiveAsync(3, Wait, SubQueue.None, Ct);
            Assert.NotEmpty(batch);
            got.AddRange(batch);
        }
        Assert.Equal(["b0", "b1", "b2"], got.Select(m => m.MessageId).Order());
        foreach (var m in got) await q.CompleteAsync(m, Ct);
    }
}
