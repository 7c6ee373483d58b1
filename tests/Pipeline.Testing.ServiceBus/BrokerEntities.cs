using Microsoft.Azure.Amqp;

namespace Pipeline.Testing.ServiceBus;

/// <summary>Entity properties of a broker queue, as the Bicep declares them for Service Bus.</summary>
public sealed record BrokerQueueOptions
{
    /// <summary>Peek-lock duration.</summary>
    public TimeSpan LockDuration { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Deliveries before a message is dead-lettered with reason MaxDeliveryCountExceeded.</summary>
    public int MaxDeliveryCount { get; init; } = 10;
    /// <summary>Drop sends whose MessageId was seen within <see cref="DuplicateDetectionWindow"/>.</summary>
    public bool RequiresDuplicateDetection { get; init; } = true;
    /// <summary>Duplicate detection history.</summary>
    public TimeSpan DuplicateDetectionWindow { get; init; } = TimeSpan.FromMinutes(10);
    /// <summary>Expired messages go to the dead-letter queue (reason TTLExpiredException) instead of vanishing.</summary>
    public bool DeadLetteringOnMessageExpiration { get; init; } = true;
}

/// <summary>A stored message and its broker state.</summary>
internal sealed class BrokerEntry
{
    public required byte[] Payload { get; init; }
    public required string? MessageId { get; init; }
    public required long Sequence { get; init; }
    public required DateTimeOffset EnqueuedAt { get; init; }
    public DateTimeOffset VisibleAt { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public int DeliveryCount { get; set; }
    public Guid? LockToken { get; set; }
    public DateTimeOffset LockedUntil { get; set; }
    public ConsumerLink? Holder { get; set; }
    public Dictionary<string, object?> ExtraProperties { get; } = new(StringComparer.Ordinal);
    public string? DeadLetterSource { get; set; }
}

/// <summary>A client's receive link on an entity (the broker's sending link).</summary>
internal sealed class ConsumerLink(SendingAmqpLink link, BrokerEntity entity)
{
    public SendingAmqpLink Link { get; } = link;
    public BrokerEntity Entity { get; } = entity;
    public bool Closed { get; set; }
}

/// <summary>A queue or its dead-letter sub-queue: the messages, their locks, and the links that consume them.</summary>
internal sealed class BrokerEntity(string path, bool isDeadLetter)
{
    public string Path { get; } = path;
    public bool IsDeadLetter { get; } = isDeadLetter;
    public List<BrokerEntry> Entries { get; } = [];
    public List<ConsumerLink> Consumers { get; } = [];
    public int NextConsumer { get; set; }
}

/// <summary>One queue: the active entity, its dead-letter entity, options and counters.</summary>
internal sealed class BrokerQueue
{
    public BrokerQueue(string name, BrokerQueueOptions options)
    {
        Name = name;
        Options = options;
        Active = new BrokerEntity(name, false);
        DeadLetter = new BrokerEntity(name + "/$DeadLetterQueue", true);
    }

    public string Name { get; }
    public BrokerQueueOptions Options { get; }
    public BrokerEntity Active { get; }
    public BrokerEntity DeadLetter { get; }
    public Dictionary<string, DateTimeOffset> SeenIds { get; } = new(StringComparer.Ordinal);
    public long Sequence { get; set; }
    public BrokerQueueCounters Counters { get; } = new();
}

/// <summary>What happened on a queue, for tests.</summary>
public sealed class BrokerQueueCounters
{
    /// <summary>Transfers the senders made (a batch of several messages is one transfer).</summary>
    public int Transfers { get; internal set; }
    /// <summary>Messages accepted into the queue (duplicates excluded).</summary>
    public int Enqueued { get; internal set; }
    /// <summary>Sends dropped by duplicate detection.</summary>
    public int DuplicatesDropped { get; internal set; }
    /// <summary>Deliveries (lock acquisitions) of active messages.</summary>
    public int Deliveries { get; internal set; }
    /// <summary>Deliveries whose delivery count was above 1.</summary>
    public int Redeliveries { get; internal set; }
    /// <summary>Completed (accepted) messages, active and dead-letter.</summary>
    public int Completed { get; internal set; }
    /// <summary>Abandoned (modified) messages.</summary>
    public int Abandoned { get; internal set; }
    /// <summary>Locks that ran out before a settlement.</summary>
    public int LocksExpired { get; internal set; }
    /// <summary>Messages moved to the dead-letter queue.</summary>
    public int DeadLettered { get; internal set; }
    /// <summary>Settlements refused because the lock was gone.</summary>
    public int LockLostSettlements { get; internal set; }
}

/// <summary>A snapshot of one message, for tests.</summary>
public sealed record BrokerMessageInfo(string? MessageId, long SequenceNumber, int DeliveryCount, bool Locked, string? DeadLetterReason, string? DeadLetterErrorDescription);
