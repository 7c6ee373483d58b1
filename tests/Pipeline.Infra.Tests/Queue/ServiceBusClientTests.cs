using System.Text;
using Azure.Core;
using Pipeline.Infra.Queue;

namespace Pipeline.Infra.Tests.Queue;

/// <summary>What only the AMQP client has: Entra ID over CBS, auth failures, and recovery from injected faults.</summary>
public sealed class ServiceBusClientTests : IAsyncDisposable
{
    private static readonly QueueEntityOptions Entity = new() { LockDuration = TimeSpan.FromSeconds(1), MaxDeliveryCount = 5 };
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

    private static ServiceBusOptions Fast(ServiceBusOptions o) => o with
    {
        OperationTimeout = TimeSpan.FromSeconds(4),
        InitialReconnectBackoff = TimeSpan.FromMilliseconds(50),
        MaxReconnectBackoff = TimeSpan.FromMilliseconds(400),
    };

    private ServiceBusJobQueue SasClient(FakeServiceBus bus, string key = FakeServiceBus.Key) => Own(new ServiceBusJobQueue(Fast(new ServiceBusOptions
    {
        FullyQualifiedNamespace = bus.Endpoint,
        SharedAccessKeyName = FakeServiceBus.KeyName,
        SharedAccessKey = key,
        QueueName = "jobs",
    })));

    private static QueueMessage Msg(string id) => new() { MessageId = id, Body = Encoding.UTF8.GetBytes(id) };

    private static async Task<ReceivedMessage> ReceiveOneAsync(IJobQueue q, double seconds = 4)
    {
        var got = await q.ReceiveAsync(1, TimeSpan.FromSeconds(seconds), SubQueue.None, Ct);
        Assert.True(got.Count == 1, "expected a message");
        return got[0];
    }

    private sealed class ShortLivedTokens(TimeSpan lifetime, string prefix = "valid-") : TokenCredential
    {
        private int _issued;
        public int Issued => _issued;
        public List<string> Scopes { get; } = [];

        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) =>
            GetTokenAsync(requestContext, cancellationToken).AsTask().GetAwaiter().GetResult();

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken)
        {
            lock (Scopes) Scopes.AddRange(requestContext.Scopes);
            return ValueTask.FromResult(new AccessToken(prefix + Interlocked.Increment(ref _issued), DateTimeOffset.UtcNow + lifetime));
        }
    }

    [Fact]
    public async Task Entra_id_tokens_go_through_cbs_and_are_refreshed_before_they_expire()
    {
        // The peer only honours unexpired tokens, per connection and audience, for attaches and $management calls.
        var bus = Own(FakeServiceBus.Start(Entity, useCbs: true));
        var credential = new ShortLivedTokens(TimeSpan.FromSeconds(1.2));
        var q = Own(new ServiceBusJobQueue(Fast(new ServiceBusOptions { FullyQualifiedNamespace = bus.Endpoint, QueueName = "jobs", Credential = credential })));

        await q.SendAsync(Msg("m1"), Ct);
        var m = await ReceiveOneAsync(q);
        // Outlive the first token twice over; renewals need a valid token on $management each time.
        for (var i = 0; i < 4; i++)
        {
            await Task.Delay(600, Ct);
            await q.RenewLockAsync(m, Ct);
        }
        await q.CompleteAsync(m, Ct);
        Assert.True(credential.Issued >= 3, $"expected refreshed tokens, got {credential.Issued}");
        Assert.True(bus.PutTokenCount >= 4, $"put-token count {bus.PutTokenCount}");
        Assert.Contains("https://servicebus.azure.net/.default", credential.Scopes);
        Assert.Empty(await q.ReceiveAsync(1, TimeSpan.FromMilliseconds(300), SubQueue.None, Ct));
    }

    [Fact]
    public async Task A_refused_token_fails_fast_with_what_to_check()
    {
        var bus = Own(FakeServiceBus.Start(Entity, useCbs: true));
        var q = Own(new ServiceBusJobQueue(Fast(new ServiceBusOptions { FullyQualifiedNamespace = bus.Endpoint, Credential = new ShortLivedTokens(TimeSpan.FromMinutes(5), "forged-") })));
        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => q.SendAsync(Msg("m1"), Ct));
        Assert.Contains("Service Bus", ex.Message);
        Assert.Equal(0, bus.Queue("jobs").ActiveCount);
    }

    [Fact]
    public async Task A_wrong_sas_key_fails_without_endless_retries()
    {
        var bus = Own(FakeServiceBus.Start(Entity));
        var q = SasClient(bus, key: "wrong");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => q.SendAsync(Msg("m1"), Ct));
        Assert.True(ex is UnauthorizedAccessException or QueueTransientException, ex.GetType().Name + ": " + ex.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Equal(0, bus.Queue("jobs").ActiveCount);
    }

    [Fact]
    public async Task Lost_lock_cancels_the_work_and_the_message_comes_back()
    {
        var bus = Own(FakeServiceBus.Start(Entity));
        var q = SasClient(bus);
        await q.SendAsync(Msg("m1"), Ct);
        var processor = new JobQueueProcessor(q, new JobQueueProcessorOptions { ReceiveWait = TimeSpan.FromSeconds(3), MaxMessages = 1, RenewInterval = TimeSpan.FromMilliseconds(150) });
        MessageOutcome? outcome = null;
        processor.Settled += (_, o, _) => outcome = o;
        var workCancelled = false;
        await processor.RunAsync(async (_, ct) =>
        {
            bus.FailNextRenewals(1); // Service Bus answers 410: someone else may hold the message now
            try { await Task.Delay(TimeSpan.FromSeconds(10), ct); }
            catch (OperationCanceledException) { workCancelled = true; throw; }
        }, Ct);
        Assert.True(workCancelled, "work must stop when the lock is lost");
        Assert.Equal(MessageOutcome.LockLost, outcome);
        var again = await ReceiveOneAsync(q);
        Assert.Equal("m1", again.MessageId);
        Assert.Equal(2, again.DeliveryCount);
        await q.CompleteAsync(again, Ct);
    }

    [Fact]
    public async Task Renewing_a_lock_the_broker_dropped_reports_lock_lost()
    {
        var bus = Own(FakeServiceBus.Start(Entity));
        var q = SasClient(bus);
        await q.SendAsync(Msg("m1"), Ct);
        var m = await ReceiveOneAsync(q);
        bus.LoseAllLocks();
        await Assert.ThrowsAsync<MessageLockLostException>(() => q.RenewLockAsync(m, Ct));
        var again = await ReceiveOneAsync(q);
        await q.CompleteAsync(again, Ct);
    }

    [Fact]
    public async Task A_detached_receive_link_is_reattached()
    {
        var bus = Own(FakeServiceBus.Start(Entity));
        var q = SasClient(bus);
        await q.SendAsync(Msg("m1"), Ct);
        await q.CompleteAsync(await ReceiveOneAsync(q), Ct);
        bus.DetachReceiverLinks();
        await q.SendAsync(Msg("m2"), Ct);
        var m2 = await ReceiveOneAsync(q);
        Assert.Equal("m2", m2.MessageId);
        await q.CompleteAsync(m2, Ct);
        Assert.Equal(1, q.ConnectionsOpened); // the link came back on the same connection
    }

    [Fact]
    public async Task A_connection_drop_in_the_middle_of_work_is_recovered_and_nothing_is_lost()
    {
        var bus = Own(FakeServiceBus.Start(Entity with { LockDuration = TimeSpan.FromSeconds(2) }));
        var q = SasClient(bus);
        for (var i = 0; i < 3; i++) await q.SendAsync(Msg("job" + i), Ct);
        var done = new List<string>();
        var outcomes = new List<MessageOutcome>();
        var processor = new JobQueueProcessor(q, new JobQueueProcessorOptions { ReceiveWait = TimeSpan.FromSeconds(1), RenewInterval = TimeSpan.FromMilliseconds(300) });
        processor.Settled += (_, o, _) => { lock (outcomes) outcomes.Add(o); };
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(TimeSpan.FromSeconds(20));
        var dropped = false;
        var run = processor.RunAsync(async (m, ct) =>
        {
            if (!dropped)
            {
                dropped = true;
                bus.DropConnections(); // mid-work: renewals and the settle must survive this
            }
            await Task.Delay(700, ct);
            lock (done)
            {
                done.Add(m.MessageId);
                if (done.Distinct().Count() == 3) cts.CancelAfter(TimeSpan.FromMilliseconds(200));
            }
        }, cts.Token);
        await run;
        Assert.Equal(["job0", "job1", "job2"], done.Distinct().Order());
        Assert.True(q.ConnectionsOpened >= 2, "the client must have reconnected");
        Assert.Equal(0, bus.Queue("jobs").ActiveCount);
        Assert.Equal(0, bus.Queue("jobs").DeadLetterCount);
    }

    [Fact]
    public async Task After_a_reconnect_settlement_goes_by_lock_token_over_management()
    {
        var bus = Own(FakeServiceBus.Start(Entity with { LockDuration = TimeSpan.FromSeconds(5) }));
        var q = SasClient(bus);
        await q.SendAsync(Msg("done"), Ct);
        await q.SendAsync(Msg("poison"), Ct);
        var done = await ReceiveOneAsync(q);
        var poison = await ReceiveOneAsync(q);
        bus.DropConnections(); // the link that delivered both is gone; the broker still holds their locks
        await Task.Delay(300, Ct); // let the client see the close frame (before that, a settle would race the drop)
        await q.CompleteAsync(done, Ct);
        await q.DeadLetterAsync(poison, "InvalidJob", "bad json", Ct);
        Assert.Equal(0, bus.Queue("jobs").ActiveCount); // settled now, not redelivered after the lock expires
        var dead = (await q.ReceiveAsync(1, TimeSpan.FromSeconds(3), SubQueue.DeadLetter, Ct)).Single();
        Assert.Equal(("poison", "InvalidJob", "bad json"), (dead.MessageId, dead.DeadLetterReason, dead.DeadLetterErrorDescription));
        await q.CompleteAsync(dead, Ct);
        Assert.True(q.ConnectionsOpened >= 2);
    }

    [Fact]
    public async Task Sends_survive_a_dropped_connection_and_stay_deduplicated()
    {
        var bus = Own(FakeServiceBus.Start(Entity));
        var q = SasClient(bus);
        await q.SendAsync(Msg("a"), Ct);
        bus.DropConnections();
        await q.SendAsync(Msg("b"), Ct);
        await q.SendAsync(Msg("a"), Ct);
        Assert.Equal(2, bus.Queue("jobs").ActiveCount);
        Assert.True(q.ConnectionsOpened >= 2);
    }

    [Fact]
    public async Task An_unreachable_broker_fails_with_a_transient_error_after_the_timeout()
    {
        var port = Services.LocalProcess.FreePort();
        var q = Own(new ServiceBusJobQueue(new ServiceBusOptions
        {
            FullyQualifiedNamespace = $"amqp://127.0.0.1:{port}", SharedAccessKeyName = "k", SharedAccessKey = "v",
            OperationTimeout = TimeSpan.FromSeconds(1), InitialReconnectBackoff = TimeSpan.FromMilliseconds(50),
        }));
        var ex = await Assert.ThrowsAsync<QueueTransientException>(() => q.SendAsync(Msg("x"), Ct));
        Assert.Contains($"127.0.0.1:{port}", ex.Message);
    }

    [Fact]
    public void Options_without_an_endpoint_say_what_to_set()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServiceBusJobQueue(new ServiceBusOptions()));
        Assert.Contains("Pipeline__Queue__FullyQualifiedNamespace", ex.Message);
    }
}
