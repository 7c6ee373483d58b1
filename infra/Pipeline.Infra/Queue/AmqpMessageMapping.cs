using Amqp;
using Amqp.Framing;
using Amqp.Types;

namespace Pipeline.Infra.Queue;

/// <summary>Maps <see cref="QueueMessage"/> to AMQP messages the way Service Bus reads them, and received AMQP messages back.</summary>
internal static class AmqpMessageMapping
{
    internal static readonly Symbol LockTokenKey = new("x-opt-lock-token");
    internal static readonly Symbol LockedUntilKey = new("x-opt-locked-until");
    internal static readonly Symbol SequenceNumberKey = new("x-opt-sequence-number");
    internal static readonly Symbol EnqueuedTimeKey = new("x-opt-enqueued-time");
    internal static readonly Symbol ScheduledEnqueueTimeKey = new("x-opt-scheduled-enqueue-time");

    public static Message ToAmqp(QueueMessage m)
    {
        var msg = new Message
        {
            BodySection = new Data { Binary = m.Body.ToArray() },
            Header = new Header { Durable = true },
            Properties = new Properties { MessageId = m.MessageId, Subject = m.Subject, CorrelationId = m.CorrelationId },
        };
        if (m.ContentType is not null) msg.Properties.ContentType = new Symbol(m.ContentType);
        if (m.TimeToLive is { } ttl) msg.Header.Ttl = (uint)Math.Clamp(ttl.TotalMilliseconds, 1, uint.MaxValue);
        if (m.ApplicationProperties is { Count: > 0 })
        {
            msg.ApplicationProperties = new ApplicationProperties();
            foreach (var (k, v) in m.ApplicationProperties) msg.ApplicationProperties[k] = ToAmqpValue(k, v);
        }
        if (m.ScheduledEnqueueTime is { } at)
        {
            msg.MessageAnnotations = new MessageAnnotations();
            msg.MessageAnnotations[ScheduledEnqueueTimeKey] = at.UtcDateTime;
        }
        return msg;
    }

    public static ReceivedMessage FromAmqp(Message m, object handle, SubQueue subQueue, DateTimeOffset now, TimeSpan defaultLock)
    {
        var ann = m.MessageAnnotations?.Map;
        object? Ann(Symbol key) => ann is not null && ann.TryGetValue(key, out var v) ? v : null;

        // Service Bus: the lock token is the 16-byte delivery tag; peers that cannot control tags send x-opt-lock-token.
        Guid lockToken = Ann(LockTokenKey) switch
        {
            Guid g => g,
            _ when m.DeliveryTag is { Length: 16 } tag => new Guid(tag),
            _ => Guid.NewGuid(), // brokers without lock tokens (RabbitMQ): settle on the link only
        };
        var props = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (m.ApplicationProperties is not null)
            foreach (var kv in m.ApplicationProperties.Map)
                props[kv.Key.ToString()!] = kv.Value is DateTime dt ? new DateTimeOffset(DateTime.SpecifyKind(dt, DateTimeKind.Utc)) : kv.Value;

        return new ReceivedMessage
        {
            MessageId = m.Properties?.MessageId ?? "",
            Body = Body(m),
            ContentType = m.Properties?.ContentType?.ToString(),
            Subject = m.Properties?.Subject,
            CorrelationId = m.Properties?.CorrelationId,
            ApplicationProperties = props,
            LockToken = lockToken,
            DeliveryCount = (int)(m.Header?.DeliveryCount ?? 0) + 1, // the header counts previous attempts
            SequenceNumber = Ann(SequenceNumberKey) is long seq ? seq : 0,
            EnqueuedTime = Ann(EnqueuedTimeKey) is DateTime et ? Utc(et) : now,
            LockedUntil = Ann(LockedUntilKey) is DateTime lu ? Utc(lu) : now + defaultLock,
            TimeToLive = m.Header is { Ttl: > 0 } h ? TimeSpan.FromMilliseconds(h.Ttl) : null,
            SubQueue = subQueue,
            Handle = handle,
        };
    }

    private static DateTimeOffset Utc(DateTime dt) => new(DateTime.SpecifyKind(dt, DateTimeKind.Utc));

    private static byte[] Body(Message m) => m.BodySection switch
    {
        Data d => d.Binary ?? [],
        AmqpValue { Value: byte[] b } => b,
        AmqpValue { Value: string s } => System.Text.Encoding.UTF8.GetBytes(s),
        null => [],
        var other => throw new InvalidDataException($"Unsupported AMQP body section {other.GetType().Name}; jobs are sent as a single data section."),
    };

    private static object? ToAmqpValue(string key, object? v) => v switch
    {
        null or string or bool or int or long or double or float or Guid or byte[] or uint or ulong or short or byte => v,
        DateTimeOffset dto => dto.UtcDateTime,
        DateTime dt => dt.ToUniversalTime(),
        TimeSpan ts => ts.Ticks,
        Enum e => e.ToString(),
        _ => throw new ArgumentException($"Application property '{key}' has type {v.GetType().Name}; use string, number, bool, Guid or date."),
    };
}
