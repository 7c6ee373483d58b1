using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Encoding;
using Microsoft.Azure.Amqp.Framing;

namespace Pipeline.Testing.ServiceBus;

/// <summary>
/// Encoding helpers: a stored message is the AMQP encoding of what the sender sent (one element of a batch, or the
/// single message); every delivery decodes it and builds a fresh message with the broker's header and annotations.
/// </summary>
internal static class BrokerMessages
{
    public const string SequenceNumber = "x-opt-sequence-number";
    public const string EnqueuedTime = "x-opt-enqueued-time";
    public const string LockedUntil = "x-opt-locked-until";
    public const string ScheduledEnqueueTime = "x-opt-scheduled-enqueue-time";
    public const string DeadLetterSource = "x-opt-deadletter-source";

    /// <summary>The stored messages of one transfer: each Data section of a batch (format 0x80013700), or the message itself.</summary>
    public static List<byte[]> Split(AmqpMessage transfer)
    {
        var result = new List<byte[]>();
        if (transfer.MessageFormat == AmqpConstants.AmqpBatchedMessageFormat)
        {
            foreach (var data in transfer.DataBody)
                result.Add(ToArray((ArraySegment<byte>)data.Value));
        }
        else
        {
            result.Add(Encode(Copy(transfer, header: null, annotations: null, extraProperties: null)));
        }
        return result;
    }

    public static AmqpMessage Decode(byte[] payload) =>
        AmqpMessage.CreateAmqpStreamMessage(new BufferListStream([new ArraySegment<byte>(payload)]), true);

    public static byte[] Encode(AmqpMessage message)
    {
        var parts = message.GetPayload();
        var total = parts.Sum(p => p.Count);
        var bytes = new byte[total];
        var at = 0;
        foreach (var p in parts)
        {
            Buffer.BlockCopy(p.Array!, p.Offset, bytes, at, p.Count);
            at += p.Count;
        }
        return bytes;
    }

    /// <summary>
    /// A new message with the body, properties and application properties of <paramref name="source"/>; its header
    /// (durable, priority, ttl) is kept with <paramref name="header"/> applied; annotations are merged.
    /// </summary>
    public static AmqpMessage Copy(AmqpMessage source, Action<Header>? header, IReadOnlyDictionary<string, object>? annotations, IReadOnlyDictionary<string, object?>? extraProperties)
    {
        AmqpMessage copy;
        var body = source.BodyType;
        if ((body & SectionFlag.Data) != 0)
            copy = AmqpMessage.Create(source.DataBody.Select(d => new Data { Value = new ArraySegment<byte>(ToArray((ArraySegment<byte>)d.Value)) }).ToList());
        else if ((body & SectionFlag.AmqpValue) != 0)
            copy = AmqpMessage.Create(new AmqpValue { Value = source.ValueBody.Value });
        else if ((body & SectionFlag.AmqpSequence) != 0)
            copy = AmqpMessage.Create(source.SequenceBody.Select(s => new AmqpSequence(s.List)).ToList());
        else
            copy = AmqpMessage.Create(new Data { Value = new ArraySegment<byte>([]) });

        if ((source.Sections & SectionFlag.Header) != 0)
        {
            var h = source.Header;
            copy.Header.Durable = h.Durable;
            copy.Header.Priority = h.Priority;
            copy.Header.Ttl = h.Ttl;
            copy.Header.FirstAcquirer = h.FirstAcquirer;
            copy.Header.DeliveryCount = h.DeliveryCount;
        }
        header?.Invoke(copy.Header);

        if ((source.Sections & SectionFlag.Properties) != 0)
        {
            var p = source.Properties;
            var q = copy.Properties;
            q.MessageId = p.MessageId;
            q.UserId = p.UserId;
            q.To = p.To;
            q.Subject = p.Subject;
            q.ReplyTo = p.ReplyTo;
            q.CorrelationId = p.CorrelationId;
            q.ContentType = p.ContentType;
            q.ContentEncoding = p.ContentEncoding;
            q.AbsoluteExpiryTime = p.AbsoluteExpiryTime;
            q.CreationTime = p.CreationTime;
            q.GroupId = p.GroupId;
            q.GroupSequence = p.GroupSequence;
            q.ReplyToGroupId = p.ReplyToGroupId;
        }
        if ((source.Sections & SectionFlag.ApplicationProperties) != 0)
            foreach (var kv in source.ApplicationProperties.Map)
                copy.ApplicationProperties.Map[(string)kv.Key.Key] = kv.Value;
        if (extraProperties is not null)
            foreach (var (k, v) in extraProperties)
                copy.ApplicationProperties.Map[k] = v;

        if ((source.Sections & SectionFlag.MessageAnnotations) != 0)
            foreach (var kv in source.MessageAnnotations.Map)
                copy.MessageAnnotations.Map[(AmqpSymbol)kv.Key.Key] = kv.Value;
        if (annotations is not null)
            foreach (var (k, v) in annotations)
                copy.MessageAnnotations.Map[k] = v;
        return copy;
    }

    public static string? MessageId(AmqpMessage m) =>
        (m.Sections & SectionFlag.Properties) != 0 ? m.Properties.MessageId?.ToString() : null;

    public static TimeSpan? TimeToLive(AmqpMessage m) =>
        (m.Sections & SectionFlag.Header) != 0 && m.Header.Ttl is { } ttl && ttl > 0 ? TimeSpan.FromMilliseconds(ttl) : null;

    public static DateTimeOffset? ScheduledFor(AmqpMessage m)
    {
        if ((m.Sections & SectionFlag.MessageAnnotations) == 0) return null;
        return m.MessageAnnotations.Map.TryGetValue<DateTime>(ScheduledEnqueueTime, out var at)
            ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc))
            : null;
    }

    private static byte[] ToArray(ArraySegment<byte> s) => s.Array is null ? [] : s.AsSpan().ToArray();
}
