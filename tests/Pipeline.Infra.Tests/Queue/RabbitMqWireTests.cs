using System.Text;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Tests.Services;

namespace Pipeline.Infra.Tests.Queue;

/// <summary>
/// Our AMQP client against an independent broker (RabbitMQ 3.x AMQP 1.0 plugin), so it is not only tested against our
/// own double. RabbitMQ covers send / receive / accept / reject; it has no lock tokens, $management or modified outcome.
/// </summary>
[Trait("Category", "Integration")]
public sealed class RabbitMqWireTests(RabbitMqFixture rabbit) : IClassFixture<RabbitMqFixture>, IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ServiceBusJobQueue Client(string queue)
    {
        rabbit.Require();
        var q = new ServiceBusJobQueue(new ServiceBusOptions
        {
            FullyQualifiedNamespace = $"amqp://127.0.0.1:{rabbit.Port}",
            SharedAccessKeyName = "guest",
            SharedAccessKey = "guest",
            QueueName = queue,
            AddressFormat = "/queue/{0}",
            OperationTimeout = TimeSpan.FromSeconds(10),
        });
        _owned.Add(q);
        return q;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var d in _owned) await d.DisposeAsync();
    }

    private static QueueMessage Msg(string id) => new()
    {
        MessageId = id,
        Body = Encoding.UTF8.GetBytes("{\"job\":\"" + id + "\"}"),
        ContentType = "application/json",
        Subject = "translation",
        CorrelationId = "c-" + id,
        ApplicationProperties = new Dictionary<string, object?> { ["kind"] = "translation", ["schemaVersion"] = 1 },
        TimeToLive = TimeSpan.FromMinutes(10),
    };

    private static async Task<ReceivedMessage> ReceiveOneAsync(IJobQueue q)
    {
        var got = await q.ReceiveAsync(1, TimeSpan.FromSeconds(10), SubQueue.None, Ct);
        Assert.True(got.Count == 1, $"expected a message on {q.Name}");
        return got[0];
    }

    [Fact]
    public async Task Send_receive_accept_round_trips_properties()
    {
        var q = Client("wire-accept");
        var id = "m-" + Guid.NewGuid().ToString("N");
        await q.SendAsync(Msg(id), Ct);
        var m = await ReceiveOneAsync(q);
        Assert.Equal(id, m.MessageId);
        Assert.Equal("{\"job\":\"" + id + "\"}", Encoding.UTF8.GetString(m.Body.Span));
        Assert.Equal("application/json", m.ContentType);
        Assert.Equal("translation", m.Subject);
        Assert.Equal("c-" + id, m.CorrelationId);
        Assert.Equal("translation", m.ApplicationProperties["kind"]);
        Assert.Equal(1, Convert.ToInt32(m.ApplicationProperties["schemaVersion"]));
        Assert.Equal(1, m.DeliveryCount);
        await q.CompleteAsync(m, Ct);
        Assert.Empty(await q.ReceiveAsync(1, TimeSpan.FromMilliseconds(500), SubQueue.None, Ct));
    }

    [Fact]
    public async Task Unsettled_message_of_a_crashed_consumer_is_redelivered()
    {
        var producer = Client("wire-crash");
        await producer.SendAsync(Msg("crash-1"), Ct);
        var crashed = Client("wire-crash");
        var taken = await ReceiveOneAsync(crashed);
        Assert.Equal("crash-1", taken.MessageId);
        await crashed.DisposeAsync(); // connection closes with the delivery unsettled
        var again = await ReceiveOneAsync(Client("wire-crash"));
        Assert.Equal("crash-1", again.MessageId);
        await producer.DisposeAsync();
    }

    [Fact]
    public async Task Reject_dead_letters_to_the_configured_queue()
    {
        var dlq = Client("jobs.dlq");
        Assert.Empty(await dlq.ReceiveAsync(1, TimeSpan.FromMilliseconds(300), SubQueue.None, Ct)); // attaching declares it
        var q = Client("jobs");
        await q.SendAsync(Msg("poison"), Ct);
        var m = await ReceiveOneAsync(q);
        await q.DeadLetterAsync(m, "InvalidJob", "cannot parse", Ct);
        var dead = await ReceiveOneAsync(dlq);
        Assert.Equal("poison", dead.MessageId);
        await dlq.CompleteAsync(dead, Ct);
        Assert.Empty(await q.ReceiveAsync(1, TimeSpan.FromMilliseconds(300), SubQueue.None, Ct));
    }
}
