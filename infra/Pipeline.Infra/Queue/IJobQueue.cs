namespace Pipeline.Infra.Queue;

/// <summary>
/// One job queue with Service Bus semantics: peek-lock receive, complete / abandon / dead-letter, lock renewal,
/// scheduled enqueue, delivery count, duplicate detection by MessageId, a dead-letter sub-queue.
/// Implementations: <see cref="InProcessJobQueue"/> (embedded default, offline demo) and <see cref="ServiceBusJobQueue"/>
/// (Azure Service Bus through the Azure.Messaging.ServiceBus SDK).
/// </summary>
public interface IJobQueue : IAsyncDisposable
{
    /// <summary>The queue (entity) name.</summary>
    string Name { get; }

    /// <summary>
    /// Sends a message. A message whose <see cref="QueueMessage.MessageId"/> was already sent within the duplicate
    /// detection window is accepted and dropped. <see cref="QueueMessage.ScheduledEnqueueTime"/> delays visibility.
    /// </summary>
    Task SendAsync(QueueMessage message, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends several messages at once (Service Bus: as few batched transfers as the size limit allows). Each message
    /// is still deduplicated by its own MessageId. Default: one <see cref="SendAsync"/> after another.
    /// </summary>
    async Task SendBatchAsync(IReadOnlyCollection<QueueMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        foreach (var m in messages) await SendAsync(m, cancellationToken);
    }

    /// <summary>
    /// The push-style consumer of this queue that workers run: peek-lock, <see cref="JobQueueProcessorOptions.MaxConcurrentCalls"/>
    /// handlers at once, locks renewed while a handler runs, and the handler's outcome turned into complete, abandon
    /// or dead-letter. Service Bus: the SDK's <c>ServiceBusProcessor</c>; default: <see cref="JobQueueProcessor"/>'s receive loop.
    /// </summary>
    IJobProcessor CreateProcessor(JobQueueProcessorOptions? options = null) => new JobQueueProcessor(this, options);

    /// <summary>
    /// Receives up to <paramref name="maxMessages"/> messages in peek-lock mode, waiting at most <paramref name="maxWait"/>
    /// for the first. Empty when none arrived. Each message stays locked until settled, its lock expires or is lost.
    /// </summary>
    Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, TimeSpan maxWait, SubQueue subQueue = SubQueue.None, CancellationToken cancellationToken = default);

    /// <summary>Done: removes the message. Throws <see cref="MessageLockLostException"/> when the lock was lost.</summary>
    Task CompleteAsync(ReceivedMessage message, CancellationToken cancellationToken = default);

    /// <summary>Gives the message back for another attempt (delivery count + 1; dead-lettered past the max).</summary>
    Task AbandonAsync(ReceivedMessage message, CancellationToken cancellationToken = default);

    /// <summary>Moves the message to the dead-letter sub-queue with a reason and a description.</summary>
    Task DeadLetterAsync(ReceivedMessage message, string reason, string? description = null, CancellationToken cancellationToken = default);

    /// <summary>Extends the lock; returns the new expiry. Throws <see cref="MessageLockLostException"/> when it is gone.</summary>
    Task<DateTimeOffset> RenewLockAsync(ReceivedMessage message, CancellationToken cancellationToken = default);
}

/// <summary>Which part of a queue to receive from.</summary>
public enum SubQueue
{
    /// <summary>The queue itself.</summary>
    None,
    /// <summary>The dead-letter sub-queue ("&lt;queue&gt;/$deadletterqueue").</summary>
    DeadLetter,
}

/// <summary>A message to send. Mirrors the Service Bus message properties the pipeline uses.</summary>
public sealed record QueueMessage
{
    /// <summary>Message id, ≤ 128 chars; the job id (duplicate detection key).</summary>
    public required string MessageId { get; init; }
    /// <summary>Payload.</summary>
    public required ReadOnlyMemory<byte> Body { get; init; }
    /// <summary>Content type of the body.</summary>
    public string? ContentType { get; init; }
    /// <summary>Subject (Service Bus "Label"): the job kind.</summary>
    public string? Subject { get; init; }
    /// <summary>Correlation id.</summary>
    public string? CorrelationId { get; init; }
    /// <summary>Application properties (string, bool, integer, double, Guid, DateTimeOffset values).</summary>
    public IReadOnlyDictionary<string, object?>? ApplicationProperties { get; init; }
    /// <summary>Time to live; expired messages are not delivered.</summary>
    public TimeSpan? TimeToLive { get; init; }
    /// <summary>Not visible before this time.</summary>
    public DateTimeOffset? ScheduledEnqueueTime { get; init; }
}

/// <summary>A message received in peek-lock mode.</summary>
public sealed class ReceivedMessage
{
    /// <summary>Message id.</summary>
    public required string MessageId { get; init; }
    /// <summary>Payload.</summary>
    public required ReadOnlyMemory<byte> Body { get; init; }
    /// <summary>Content type.</summary>
    public string? ContentType { get; init; }
    /// <summary>Subject.</summary>
    public string? Subject { get; init; }
    /// <summary>Correlation id.</summary>
    public string? CorrelationId { get; init; }
    /// <summary>Application properties.</summary>
    public required IReadOnlyDictionary<string, object?> ApplicationProperties { get; init; }
    /// <summary>Lock token of this delivery.</summary>
    public required Guid LockToken { get; init; }
    /// <summary>1-based delivery attempt (1 = first delivery).</summary>
    public required int DeliveryCount { get; init; }
    /// <summary>Broker sequence number.</summary>
    public long SequenceNumber { get; init; }
    /// <summary>When the broker enqueued it.</summary>
    public DateTimeOffset EnqueuedTime { get; init; }
    /// <summary>Lock expiry as last known (updated by renewals).</summary>
    public DateTimeOffset LockedUntil { get; internal set; }
    /// <summary>Time to live, if set.</summary>
    public TimeSpan? TimeToLive { get; init; }
    /// <summary>Which sub-queue it came from.</summary>
    public SubQueue SubQueue { get; init; }
    /// <summary>Dead-letter reason (DLQ messages).</summary>
    public string? DeadLetterReason => ApplicationProperties.TryGetValue("DeadLetterReason", out var v) ? v as string : null;
    /// <summary>Dead-letter description (DLQ messages).</summary>
    public string? DeadLetterErrorDescription => ApplicationProperties.TryGetValue("DeadLetterErrorDescription", out var v) ? v as string : null;

    /// <summary>Implementation handle (the link/delivery that must settle it).</summary>
    internal object? Handle { get; init; }
}

/// <summary>The message lock expired or was lost: another consumer may get the message; do not complete.</summary>
public sealed class MessageLockLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MessageLockLostException(string message, Exception? inner = null) : base(message, inner) { }
    /// <summary>Creates the exception.</summary>
    public MessageLockLostException() { }
    /// <summary>Creates the exception.</summary>
    public MessageLockLostException(string message) : base(message) { }
}

/// <summary>The broker or the connection failed in a way a retry may fix.</summary>
public sealed class QueueTransientException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QueueTransientException(string message, Exception? inner = null) : base(message, inner) { }
    /// <summary>Creates the exception.</summary>
    public QueueTransientException() { }
    /// <summary>Creates the exception.</summary>
    public QueueTransientException(string message) : base(message) { }
}
