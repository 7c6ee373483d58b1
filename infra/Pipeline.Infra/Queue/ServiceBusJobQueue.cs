using Azure.Messaging.ServiceBus;

namespace Pipeline.Infra.Queue;

/// <summary>
/// <see cref="IJobQueue"/> on Azure Service Bus through the Azure.Messaging.ServiceBus SDK, which carries token
/// refresh, connection and link recovery, retries (<see cref="ServiceBusOptions.RetryOptions"/>), lock renewal and
/// telemetry. Sends: <see cref="ServiceBusSender"/> with MessageId = job id (duplicate detection), batched when several
/// jobs go at once. Pull receives (contract tests, dead-letter inspection): one <see cref="ServiceBusReceiver"/> per
/// sub-queue in peek-lock. Workers: <see cref="CreateProcessor"/>, a <see cref="ServiceBusProcessor"/>.
/// Queues on one namespace share one client (one connection).
/// </summary>
public sealed class ServiceBusJobQueue : IJobQueue
{
    private readonly ServiceBusOptions _options;
    private readonly ServiceBusClient _client;
    private readonly Lazy<ServiceBusSender> _sender;
    private readonly Lazy<ServiceBusReceiver> _receiver;
    private readonly Lazy<ServiceBusReceiver> _deadLetterReceiver;
    private int _disposed;

    /// <summary>Creates the queue client; nothing connects until the first call.</summary>
    public ServiceBusJobQueue(ServiceBusOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.ConnectionString)) _ = options.NamespaceHost(); // says what to set
        _options = options;
        Name = options.EntityName();
        _client = ServiceBusClients.Acquire(options);
        _sender = new Lazy<ServiceBusSender>(() => _client.CreateSender(Name));
        _receiver = new Lazy<ServiceBusReceiver>(() => _client.CreateReceiver(Name, new ServiceBusReceiverOptions { ReceiveMode = ServiceBusReceiveMode.PeekLock, PrefetchCount = 0 }));
        _deadLetterReceiver = new Lazy<ServiceBusReceiver>(() => _client.CreateReceiver(Name, new ServiceBusReceiverOptions { ReceiveMode = ServiceBusReceiveMode.PeekLock, PrefetchCount = 0, SubQueue = Azure.Messaging.ServiceBus.SubQueue.DeadLetter }));
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>The namespace this queue lives in.</summary>
    public string FullyQualifiedNamespace => _client.FullyQualifiedNamespace;

    /// <inheritdoc />
    public Task SendAsync(QueueMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var sb = ToServiceBus(message);
        return Translate(() => _sender.Value.SendMessageAsync(sb, cancellationToken));
    }

    /// <inheritdoc />
    public async Task SendBatchAsync(IReadOnlyCollection<QueueMessage> messages, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var pending = new Queue<ServiceBusMessage>(messages.Select(ToServiceBus));
        while (pending.Count > 0)
        {
            using var batch = await Translate(() => _sender.Value.CreateMessageBatchAsync(cancellationToken).AsTask());
            while (pending.Count > 0 && batch.TryAddMessage(pending.Peek())) pending.Dequeue();
            if (batch.Count == 0)
                throw new InvalidOperationException($"Message '{pending.Peek().MessageId}' is larger than a Service Bus batch may be ({batch.MaxSizeInBytes} bytes).");
            await Translate(() => _sender.Value.SendMessagesAsync(batch, cancellationToken));
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, TimeSpan maxWait, SubQueue subQueue = SubQueue.None, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        var receiver = ReceiverFor(subQueue);
        var got = await Translate(() => receiver.ReceiveMessagesAsync(maxMessages, maxWait, cancellationToken));
        return got.Select(m => FromServiceBus(m, subQueue, Delivery.Of(receiver, m))).ToList();
    }

    /// <inheritdoc />
    public Task CompleteAsync(ReceivedMessage message, CancellationToken cancellationToken = default) =>
        Translate(() => HandleOf(message).Complete(cancellationToken));

    /// <inheritdoc />
    public Task AbandonAsync(ReceivedMessage message, CancellationToken cancellationToken = default) =>
        Translate(() => HandleOf(message).Abandon(cancellationToken));

    /// <inheritdoc />
    public Task DeadLetterAsync(ReceivedMessage message, string reason, string? description = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        return Translate(() => HandleOf(message).DeadLetter(Clip(reason), description is null ? null : Clip(description), cancellationToken));
    }

    /// <inheritdoc />
    public async Task<DateTimeOffset> RenewLockAsync(ReceivedMessage message, CancellationToken cancellationToken = default)
    {
        var d = HandleOf(message);
        await Translate(() => d.Renew(cancellationToken));
        message.LockedUntil = d.Message.LockedUntil;
        return d.Message.LockedUntil;
    }

    /// <summary>A <see cref="ServiceBusProcessor"/> on this queue (peek-lock, SDK lock renewal, settle by outcome).</summary>
    public IJobProcessor CreateProcessor(JobQueueProcessorOptions? options = null) => new ServiceBusJobProcessor(_client, Name, options ?? new JobQueueProcessorOptions());

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        try
        {
            if (_sender.IsValueCreated) await _sender.Value.DisposeAsync();
            if (_receiver.IsValueCreated) await _receiver.Value.DisposeAsync();
            if (_deadLetterReceiver.IsValueCreated) await _deadLetterReceiver.Value.DisposeAsync();
        }
        catch (ServiceBusException)
        {
            // Closing links on a connection that is already gone.
        }
        await ServiceBusClients.ReleaseAsync(_options, _client);
    }

    // ---- mapping ----

    internal static ServiceBusMessage ToServiceBus(QueueMessage m)
    {
        if (string.IsNullOrEmpty(m.MessageId) || m.MessageId.Length > 128)
            throw new ArgumentException("MessageId must be 1..128 characters (Service Bus limit).", nameof(m));
        var sb = new ServiceBusMessage(m.Body)
        {
            MessageId = m.MessageId,
            ContentType = m.ContentType,
            Subject = m.Subject,
            CorrelationId = m.CorrelationId,
        };
        if (m.TimeToLive is { } ttl) sb.TimeToLive = ttl;
        if (m.ScheduledEnqueueTime is { } at) sb.ScheduledEnqueueTime = at;
        if (m.ApplicationProperties is not null)
            foreach (var (k, v) in m.ApplicationProperties)
                sb.ApplicationProperties[k] = v switch
                {
                    null or string or bool or int or long or double or float or Guid or DateTimeOffset or DateTime or TimeSpan or byte or short or uint or ulong or ushort or sbyte or decimal or Uri => v,
                    Enum e => e.ToString(),
                    _ => throw new ArgumentException($"Application property '{k}' has type {v.GetType().Name}; use string, number, bool, Guid, date or time span."),
                };
        return sb;
    }

    internal static ReceivedMessage FromServiceBus(ServiceBusReceivedMessage m, SubQueue subQueue, Delivery handle) => new()
    {
        MessageId = m.MessageId,
        Body = m.Body.ToMemory(),
        ContentType = m.ContentType,
        Subject = m.Subject,
        CorrelationId = m.CorrelationId,
        ApplicationProperties = m.ApplicationProperties.ToDictionary(kv => kv.Key, kv => (object?)kv.Value, StringComparer.Ordinal),
        LockToken = Guid.TryParse(m.LockToken, out var token) ? token : Guid.Empty,
        DeliveryCount = m.DeliveryCount,
        SequenceNumber = m.SequenceNumber,
        EnqueuedTime = m.EnqueuedTime,
        LockedUntil = m.LockedUntil,
        TimeToLive = m.TimeToLive == TimeSpan.MaxValue ? null : m.TimeToLive,
        SubQueue = subQueue,
        Handle = handle,
    };

    /// <summary>The SDK exceptions the pipeline reacts to, as the queue seam's exceptions.</summary>
    internal static Exception? TranslateException(Exception e) => e switch
    {
        ServiceBusException { Reason: ServiceBusFailureReason.MessageLockLost or ServiceBusFailureReason.SessionLockLost } sb =>
            new MessageLockLostException($"The lock on the message was lost ({sb.Message}); it will be delivered again.", sb),
        ServiceBusException { IsTransient: true } sb => new QueueTransientException($"Service Bus failed after the SDK's retries: {sb.Message}", sb),
        ServiceBusException { Reason: ServiceBusFailureReason.ServiceCommunicationProblem or ServiceBusFailureReason.ServiceTimeout or ServiceBusFailureReason.ServiceBusy } sb =>
            new QueueTransientException($"Service Bus could not be reached: {sb.Message}", sb),
        _ => null,
    };

    private static async Task Translate(Func<Task> op)
    {
        try
        {
            await op();
        }
        catch (Exception e) when (TranslateException(e) is { } mapped)
        {
            throw mapped;
        }
    }

    private static async Task<T> Translate<T>(Func<Task<T>> op)
    {
        try
        {
            return await op();
        }
        catch (Exception e) when (TranslateException(e) is { } mapped)
        {
            throw mapped;
        }
    }

    private ServiceBusReceiver ReceiverFor(SubQueue subQueue) => subQueue == SubQueue.DeadLetter ? _deadLetterReceiver.Value : _receiver.Value;

    private static Delivery HandleOf(ReceivedMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return message.Handle as Delivery ?? throw new ArgumentException("This message was not received from a Service Bus queue.", nameof(message));
    }

    private static string Clip(string s) => s.Length <= 4096 ? s : s[..4096];

    /// <summary>How to settle one received message: through the receiver that got it, or the processor's event args.</summary>
    internal sealed record Delivery(
        ServiceBusReceivedMessage Message,
        Func<CancellationToken, Task> Complete,
        Func<CancellationToken, Task> Abandon,
        Func<string, string?, CancellationToken, Task> DeadLetter,
        Func<CancellationToken, Task> Renew)
    {
        public static Delivery Of(ServiceBusReceiver r, ServiceBusReceivedMessage m) => new(m,
            ct => r.CompleteMessageAsync(m, ct),
            ct => r.AbandonMessageAsync(m, null, ct),
            (reason, description, ct) => r.DeadLetterMessageAsync(m, reason, description, ct),
            ct => r.RenewMessageLockAsync(m, ct));

        public static Delivery Of(ProcessMessageEventArgs a) => new(a.Message,
            ct => a.CompleteMessageAsync(a.Message, ct),
            ct => a.AbandonMessageAsync(a.Message, null, ct),
            (reason, description, ct) => a.DeadLetterMessageAsync(a.Message, reason, description, ct),
            ct => a.RenewMessageLockAsync(a.Message, ct));
    }
}
