using System.Text;
using Azure.Messaging.ServiceBus;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Testing.ServiceBus;
using SubQueue = Pipeline.Infra.Queue.SubQueue;

namespace Pipeline.Infra.Tests.Queue;

/// <summary>
/// What the queue contract does not cover: the SDK's authentication, batching, peeking, recovery and processor
/// behaviour against the test broker, with faults injected (refused tokens, dropped connections, lost locks, slow
/// settlement) and a graceful stop.
/// </summary>
public sealed class ServiceBusSdkTests : IAsyncDisposable
{
    private static readonly BrokerQueueOptions Entity = new() { LockDuration = TimeSpan.FromSeconds(2), MaxDeliveryCount = 5 };
    private readonly List<IAsyncDisposable> _owned = [];
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private T Own<T>(T d) where T : IAsyncDisposable
    {
        _owned.Add(d);
        return d;
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = _owned.Count - 1; i >= 0; i--) await _owned[i].DisposeAsync();
    }

    private ServiceBusJobQueue Queue(ServiceBusTestBroker broker, string? connectionString = null) =>
        Own(new ServiceBusJobQueue(ServiceBusQueueTests.ClientOptions(broker) with { ConnectionString = connectionString ?? broker.ConnectionString, SharedConnection = false }));

    private static QueueMessage Msg(string id) => new() { MessageId = id, Body = Encoding.UTF8.GetBytes(id) };

    private static async Task<ReceivedMessage> ReceiveOneAsync(IJobQueue q, double seconds = 5, SubQueue sub = SubQueue.None)
    {
        var got = await q.ReceiveAsync(1, TimeSpan.FromSeconds(seconds), sub, Ct);
        Assert.True(got.Count == 1, "expected a message");
        return got[0];
    }

    [Fact]
    public void Options_without_a_namespace_or_connection_string_say_what_to_set()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServiceBusJobQueue(new ServiceBusOptions()));
        Assert.Contains("Pipeline__Queue__FullyQualifiedNamespace", ex.Message);
    }

    [Fact]
    public async Task A_wrong_sas_key_is_refused_with_unauthorized_access()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity));
        var q = Queue(broker, broker.ConnectionStringWith(Convert.ToBase64String(Encoding.UTF8.GetBytes("not-the-key"))));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => q.SendAsync(Msg("m1"), Ct));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}: an authorization failure must not be retried");
        Assert.Equal(0, broker.ActiveCount("jobs"));
        Assert.True(broker.PutTokenCount >= 1);
    }

    [Fact]
    public async Task Refused_tokens_fail_the_call_and_a_later_token_works()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity));
        var q = Queue(broker);
        broker.RefuseNextTokens(int.MaxValue);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => q.SendAsync(Msg("m1"), Ct));
        Assert.Equal(0, broker.ActiveCount("jobs"));
        // One refusal in the middle (a token service hiccup): the SDK asks again and the send goes through.
        broker.RefuseNextTokens(1);
        var before = broker.PutTokenCount;
        await q.SendAsync(Msg("m2"), Ct);
        Assert.True(broker.PutTokenCount >= before + 2, $"put-token requests {broker.PutTokenCount - before}: a refusal then a success");
        var m = await ReceiveOneAsync(q);
        Assert.Equal("m2", m.MessageId);
        await q.CompleteAsync(m, Ct);
    }

    [Fact]
    public async Task Several_jobs_go_as_one_batch_and_duplicates_are_dropped_by_message_id()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity));
        var q = Queue(broker);
        var jobs = Enumerable.Range(0, 40).Select(i => Msg("job-" + i)).ToList();
        await q.SendBatchAsync(jobs, Ct);
        await q.SendBatchAsync(jobs.Take(10).ToList(), Ct); // a retried timer slot
        var counters = broker.Counters("jobs");
        Assert.Equal(40, counters.Enqueued);
        Assert.Equal(10, counters.DuplicatesDropped);
        Assert.Equal(2, counters.Transfers); // 50 messages in two batched transfers
        var ids = new List<string>();
        while (ids.Count < 40)
        {
            var got = await q.ReceiveAsync(20, TimeSpan.FromSeconds(5), SubQueue.None, Ct);
            Assert.NotEmpty(got);
            foreach (var m in got)
            {
                ids.Add(m.MessageId);
                await q.CompleteAsync(m, Ct);
            }
        }
        Assert.Equal(jobs.Select(j => j.MessageId).Order(), ids.Order());
    }

    [Fact]
    public async Task Peek_shows_messages_without_locking_them()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity));
        var q = Queue(broker);
        await q.SendBatchAsync([Msg("a"), Msg("b")], Ct);
        await using var client = new ServiceBusClient(broker.ConnectionString);
        await using var receiver = client.CreateReceiver("jobs");
        var peeked = await receiver.PeekMessagesAsync(10, cancellationToken: Ct);
        Assert.Equal(["a", "b"], peeked.Select(m => m.MessageId));
        Assert.True(peeked[0].SequenceNumber < peeked[1].SequenceNumber);
        Assert.Equal(2, broker.Messages("jobs").Count(m => !m.Locked));
    }

    [Fact]
    public async Task Settling_after_a_reconnect_goes_by_lock_token_over_management()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity with { LockDuration = TimeSpan.FromSeconds(10) }));
        var q = Queue(broker);
        await q.SendBatchAsync([Msg("done"), Msg("poison")], Ct);
        var got = await q.ReceiveAsync(2, TimeSpan.FromSeconds(5), SubQueue.None, Ct);
        if (got.Count < 2) got = [.. got, await ReceiveOneAsync(q)];
        var done = got.Single(m => m.MessageId == "done");
        var poison = got.Single(m => m.MessageId == "poison");
        broker.DropConnections(); // the link that delivered both is gone; the broker still holds their locks
        await Task.Delay(300, Ct);
        await q.CompleteAsync(done, Ct);
        await q.DeadLetterAsync(poison, "InvalidJob", "bad json", Ct);
        Assert.Equal(0, broker.ActiveCount("jobs")); // settled now, not redelivered after the lock expires
        var dead = await ReceiveOneAsync(q, sub: SubQueue.DeadLetter);
        Assert.Equal(("poison", "InvalidJob", "bad json"), (dead.MessageId, dead.DeadLetterReason, dead.DeadLetterErrorDescription));
        await q.CompleteAsync(dead, Ct);
        Assert.True(broker.ConnectionsAccepted >= 2, "the SDK must have reconnected");
    }

    [Fact]
    public async Task A_lost_lock_cancels_the_work_and_the_message_comes_back()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity));
        var q = Queue(broker);
        await q.SendAsync(Msg("m1"), Ct);
        var processor = q.CreateProcessor(new JobQueueProcessorOptions { MaxMessages = 1 });
        MessageOutcome? outcome = null;
        processor.Settled += (_, o, _) => outcome = o;
        var cancelled = false;
        await processor.RunAsync(async (_, ct) =>
        {
            broker.FailNextRenewals(10); // Service Bus answers 410: someone else may hold the message now
            try { await Task.Delay(TimeSpan.FromSeconds(20), ct); }
            catch (OperationCanceledException) { cancelled = true; throw; }
        }, Ct);
        Assert.True(cancelled, "work must stop when the lock is lost");
        Assert.Equal(MessageOutcome.LockLost, outcome);
        var again = await ReceiveOneAsync(q, seconds: 8);
        Assert.Equal(("m1", 2), (again.MessageId, again.DeliveryCount));
        await q.CompleteAsync(again, Ct);
    }

    [Fact]
    public async Task A_settlement_slower_than_the_lock_is_a_lost_lock_and_a_redelivery()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity with { LockDuration = TimeSpan.FromSeconds(1) }));
        var q = Queue(broker);
        await q.SendAsync(Msg("m1"), Ct);
        var m = await ReceiveOneAsync(q);
        broker.SettlementDelay = TimeSpan.FromSeconds(1.5);
        await Assert.ThrowsAsync<MessageLockLostException>(() => q.CompleteAsync(m, Ct));
        broker.SettlementDelay = TimeSpan.Zero;
        var again = await ReceiveOneAsync(q);
        Assert.Equal(2, again.DeliveryCount);
        await q.CompleteAsync(again, Ct);
        Assert.Equal(1, broker.Counters("jobs").LockLostSettlements);
    }

    [Fact]
    public async Task Stopping_the_processor_abandons_the_job_in_hand_at_once()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity with { LockDuration = TimeSpan.FromSeconds(30) }));
        var q = Queue(broker);
        await q.SendAsync(Msg("m1"), Ct);
        var processor = q.CreateProcessor();
        MessageOutcome? outcome = null;
        processor.Settled += (_, o, _) => outcome = o;
        var started = new TaskCompletionSource();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var run = processor.RunAsync(async (_, ct) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
        }, stop.Token);
        await started.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        await stop.CancelAsync();
        Assert.Equal(1, await run.WaitAsync(TimeSpan.FromSeconds(20), Ct));
        Assert.Equal(MessageOutcome.Abandoned, outcome);
        // Back now, not after the 30 s lock.
        var again = await ReceiveOneAsync(q, seconds: 5);
        Assert.Equal(2, again.DeliveryCount);
        await q.CompleteAsync(again, Ct);
    }

    [Fact]
    public async Task The_processor_survives_dropped_connections_and_finishes_every_job()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity));
        var q = Queue(broker);
        var ids = Enumerable.Range(0, 12).Select(i => "job" + i).ToList();
        await q.SendBatchAsync(ids.Select(Msg).ToList(), Ct);
        var done = new HashSet<string>();
        var processor = q.CreateProcessor(new JobQueueProcessorOptions { MaxConcurrentCalls = 3 });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        stop.CancelAfter(TimeSpan.FromSeconds(60));
        var drops = 0;
        await processor.RunAsync(async (m, ct) =>
        {
            if (Interlocked.Increment(ref drops) is 2 or 6) broker.DropConnections(); // mid-work: renewals and settles must survive
            await Task.Delay(300, ct);
            lock (done)
            {
                done.Add(m.MessageId);
                if (done.Count == ids.Count) stop.CancelAfter(TimeSpan.FromMilliseconds(500));
            }
        }, stop.Token);
        Assert.Equal(ids.Order(), done.Order());
        Assert.True(broker.ConnectionsAccepted >= 3, $"connections {broker.ConnectionsAccepted}");
        // Jobs whose settle died with a connection come back after their lock; they are done (idempotent), so drain them.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (broker.ActiveCount("jobs") > 0 && DateTime.UtcNow < deadline)
            foreach (var m in await q.ReceiveAsync(10, TimeSpan.FromSeconds(1), SubQueue.None, Ct)) await q.CompleteAsync(m, Ct);
        Assert.Equal(0, broker.ActiveCount("jobs"));
        Assert.Equal(0, broker.DeadLetterCount("jobs"));
    }

    [Fact]
    public async Task Max_delivery_count_moves_a_failing_job_to_the_dead_letter_queue_through_the_processor()
    {
        var broker = Own(ServiceBusTestBroker.Start(Entity with { MaxDeliveryCount = 3 }));
        var q = Queue(broker);
        var env = JobEnvelope.Create(new ProjectionJob { Model = new BlobRef("models/g.pt"), Input = new BlobRef("uploads/a.png", "\"e\"") });
        await q.SendAsync(JobPublisher.Message(env), Ct);
        var processor = q.CreateProcessor(new JobQueueProcessorOptions { MaxMessages = 3 });
        var attempts = new List<int>();
        await processor.RunAsync((m, _) =>
        {
            attempts.Add(m.DeliveryCount);
            Assert.Equal("Projection", m.ApplicationProperties["kind"]);
            throw new InvalidOperationException("GPU fell over");
        }, Ct);
        Assert.Equal([1, 2, 3], attempts);
        var dead = Assert.Single(broker.Messages("jobs", deadLetter: true));
        Assert.Equal((env.JobId, "MaxDeliveryCountExceeded"), (dead.MessageId, dead.DeadLetterReason));
    }
}
