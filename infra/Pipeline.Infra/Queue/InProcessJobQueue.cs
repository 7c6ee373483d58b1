namespace Pipeline.Infra.Queue;

/// <summary>
/// The embedded queue for the one-command demo: in memory, one process, same semantics as Service Bus for what the
/// pipeline relies on (peek-lock with lock expiry and redelivery, abandon, max delivery count then dead-letter with
/// reason, dead-letter sub-queue, duplicate detection by MessageId, scheduled enqueue, TTL). Share one instance
/// between producers and consumers. Not durable: messages die with the process.
/// </summary>
public sealed class InProcessJobQueue : IJobQueue
{
    private readonly object _sync = new();
    private readonly List<Entry> _active = [];
    private readonly List<Entry> _deadLetter = [];
    private readonly Dictionary<string, DateTimeOffset> _seenIds = new(StringComparer.Ordinal);
    private readonly QueueEntityOptions _options;
    private readonly TimeProvider _time;
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _sequence;

    /// <summary>Creates an empty queue.</summary>
    public InProcessJobQueue(string name, QueueEntityOptions? options = null, TimeProvider? timeProvider = null)
    {
        Name = name;
        _options = options ?? new QueueEntityOptions();
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <inheritdoc />
    public string Name { get; }

    /// <summary>Messages in the queue (available, scheduled or locked), for diagnostics and tests.</summary>
    public int ActiveCount { get { lock (_sync) { Sweep(); return _active.Count; } } }

    /// <summary>Messages in the dead-letter sub-queue.</summary>
    public int DeadLetterCount { get { lock (_sync) { Sweep(); return _deadLetter.Count; } } }

    /// <inheritdoc />
    public Task SendAsync(QueueMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (string.IsNullOrEmpty(message.MessageId) || message.MessageId.Length > 128)
            throw new ArgumentException("MessageId must be 1..128 characters.", nameof(message));
        cancellationToken.ThrowIfCancellationRequested();
        var now = _time.GetUtcNow();
        lock (_sync)
        {
            if (_options.RequiresDuplicateDetection)
            {
                foreach (var old in _seenIds.Where(kv => now - kv.Value > _options.DuplicateDetectionWindow).Select(kv => kv.Key).ToList())
                    _seenIds.Remove(old);
                if (_seenIds.ContainsKey(message.MessageId)) return Task.CompletedTask; // accepted and dropped, as Service Bus does
                _seenIds[message.MessageId] = now;
            }
            var enqueued = message.ScheduledEnqueueTime is { } at && at > now ? at : now;
            _active.Add(new Entry(message, ++_sequence, enqueued)
            {
                ExpiresAt = message.TimeToLive is { } ttl ? enqueued + ttl : null,
                Properties = new Dictionary<string, object?>(message.ApplicationProperties ?? new Dictionary<string, object?>()),
            });
            Pulse();
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, TimeSpan maxWait, SubQueue subQueue = SubQueue.None, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessages, 1);
        var deadline = _time.GetUtcNow() + maxWait;
        while (true)
        {
            Task signal;
            lock (_sync)
            {
                Sweep();
                var got = TakeAvailable(subQueue == SubQueue.DeadLetter ? _deadLetter : _active, maxMessages, subQueue);
                if (got.Count > 0) return got;
                signal = _signal.Task;
            }
            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero) return [];
            // Poll at a short interval as well: lock expiry and scheduled times make messages available without a send.
            var tick = TimeSpan.FromMilliseconds(Math.Min(left.TotalMilliseconds, 20));
            await Task.WhenAny(signal, Task.Delay(tick, _time, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <inheritdoc />
    public Task CompleteAsync(ReceivedMessage message, CancellationToken cancellationToken = default)
    {
        lock (_sync)
        {
            var (list, e) = Locked(message);
            list.Remove(e);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task AbandonAsync(ReceivedMessage message, CancellationToken cancellationToken = default)
    {
        lock (_sync)
        {
            var (list, e) = Locked(message);
            Unlock(list, e);
            Pulse();
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task DeadLetterAsync(ReceivedMessage message, string reason, string? description = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(reason);
        lock (_sync)
        {
            var (list, e) = Locked(message);
            list.Remove(e);
            MoveToDeadLetter(e, reason, description);
        }
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<DateTimeOffset> RenewLockAsync(ReceivedMessage message, CancellationToken cancellationToken = default)
    {
        lock (_sync)
        {
            var (_, e) = Locked(message);
            e.LockedUntil = _time.GetUtcNow() + _options.LockDuration;
            message.LockedUntil = e.LockedUntil.Value;
            return Task.FromResult(e.LockedUntil.Value);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private List<ReceivedMessage> TakeAvailable(List<Entry> list, int max, SubQueue subQueue)
    {
        var now = _time.GetUtcNow();
        var result = new List<ReceivedMessage>();
        foreach (var e in list.Where(e => e.LockToken is null && e.VisibleAt <= now).OrderBy(e => e.Sequence).Take(max))
        {
            e.DeliveryCount++;
            e.LockToken = Guid.NewGuid();
            e.LockedUntil = now + _options.LockDuration;
            result.Add(new ReceivedMessage
            {
                MessageId = e.Message.MessageId,
                Body = e.Message.Body,
                ContentType = e.Message.ContentType,
                Subject = e.Message.Subject,
                CorrelationId = e.Message.CorrelationId,
                ApplicationProperties = new Dictionary<string, object?>(e.Properties),
                LockToken = e.LockToken.Value,
                DeliveryCount = e.DeliveryCount,
                SequenceNumber = e.Sequence,
                EnqueuedTime = e.VisibleAt,
                LockedUntil = e.LockedUntil.Value,
                TimeToLive = e.Message.TimeToLive,
                SubQueue = subQueue,
            });
        }
        return result;
    }

    // Applies what time did: expired locks come back (or go to the DLQ past the max), expired TTLs are dropped.
    private void Sweep()
    {
        var now = _time.GetUtcNow();
        _active.RemoveAll(e => e.LockToken is null && e.ExpiresAt is { } x && x <= now);
        foreach (var e in _active.Where(e => e.LockToken is not null && e.LockedUntil <= now).ToList())
            Unlock(_active, e);
        foreach (var e in _deadLetter.Where(e => e.LockToken is not null && e.LockedUntil <= now).ToList())
            Unlock(_deadLetter, e);
    }

    private void Unlock(List<Entry> list, Entry e)
    {
        e.LockToken = null;
        e.LockedUntil = null;
        if (list == _active && e.DeliveryCount >= _options.MaxDeliveryCount)
        {
            _active.Remove(e);
            MoveToDeadLetter(e, "MaxDeliveryCountExceeded", $"Message could not be consumed after {_options.MaxDeliveryCount} delivery attempts.");
        }
    }

    private void MoveToDeadLetter(Entry e, string reason, string? description)
    {
        e.LockToken = null;
        e.LockedUntil = null;
        e.DeliveryCount = 0;
        e.ExpiresAt = null;
        e.Properties["DeadLetterReason"] = reason;
        if (description is not null) e.Properties["DeadLetterErrorDescription"] = description;
        _deadLetter.Add(e);
        Pulse();
    }

    private (List<Entry> List, Entry Entry) Locked(ReceivedMessage m)
    {
        ArgumentNullException.ThrowIfNull(m);
        Sweep();
        var list = m.SubQueue == SubQueue.DeadLetter ? _deadLetter : _active;
        var e = list.FirstOrDefault(x => x.LockToken == m.LockToken);
        if (e is null || e.LockedUntil <= _time.GetUtcNow())
            throw new MessageLockLostException($"The lock on message '{m.MessageId}' (token {m.LockToken}) expired or was lost; the message may be delivered again.");
        return (list, e);
    }

    private void Pulse()
    {
        var old = _signal;
        _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        old.TrySetResult();
    }

    private sealed class Entry(QueueMessage message, long sequence, DateTimeOffset visibleAt)
    {
        public QueueMessage Message { get; } = message;
        public long Sequence { get; } = sequence;
        public DateTimeOffset VisibleAt { get; } = visibleAt;
        public DateTimeOffset? ExpiresAt { get; set; }
        public required Dictionary<string, object?> Properties { get; init; }
        public int DeliveryCount { get; set; }
        public Guid? LockToken { get; set; }
        public DateTimeOffset? LockedUntil { get; set; }
    }
}
