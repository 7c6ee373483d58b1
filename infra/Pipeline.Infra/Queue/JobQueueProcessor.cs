using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Queue;

/// <summary>Options of a queue's <see cref="IJobProcessor"/>.</summary>
public sealed record JobQueueProcessorOptions
{
    /// <summary>How long one receive call waits for a message.</summary>
    public TimeSpan ReceiveWait { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Handlers running at once (Service Bus: <c>ServiceBusProcessorOptions.MaxConcurrentCalls</c>).</summary>
    public int MaxConcurrentCalls { get; init; } = 1;
    /// <summary>Renew the lock in the background while the handler runs.</summary>
    public bool RenewLock { get; init; } = true;
    /// <summary>
    /// Stop renewing after this long (Service Bus: <c>MaxAutoLockRenewalDuration</c>); must outlast the longest job.
    /// </summary>
    public TimeSpan MaxAutoLockRenewalDuration { get; init; } = QueueDefaults.MaxAutoLockRenewalDuration;
    /// <summary>Renewal interval of the receive loop; null = half the remaining lock time (the SDK picks its own).</summary>
    public TimeSpan? RenewInterval { get; init; }
    /// <summary>First backoff after a transient receive failure (doubles up to <see cref="MaxBackoff"/>).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Longest backoff.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Stop after this many handled messages (an ACA job handles one and exits); null = until cancelled.</summary>
    public int? MaxMessages { get; init; }
}

/// <summary>What happened to one message.</summary>
public enum MessageOutcome
{
    /// <summary>Handler succeeded; message completed.</summary>
    Completed,
    /// <summary>Handler failed, or the worker stopped during it; message abandoned for another attempt (the broker dead-letters past the max).</summary>
    Abandoned,
    /// <summary>Poison (invalid job); message dead-lettered at once.</summary>
    DeadLettered,
    /// <summary>The lock was lost during the work; not settled (the broker redelivers).</summary>
    LockLost,
}

/// <summary>
/// Runs a handler over a queue's messages: peek-lock, lock renewal while the handler runs, complete on success,
/// dead-letter with reason "InvalidJob" on <see cref="InvalidJobException"/>, abandon on any other failure (the
/// broker's max delivery count turns repeated failure into a dead-letter), abandon the job in hand on shutdown.
/// </summary>
public interface IJobProcessor
{
    /// <summary>Called after each message with its outcome (logging, metrics, tests).</summary>
    event Action<ReceivedMessage, MessageOutcome, Exception?>? Settled;

    /// <summary>Receive failures the processor recovers from by itself (reconnecting, backing off); for logs.</summary>
    event Action<Exception>? Error;

    /// <summary>
    /// Runs until <paramref name="cancellationToken"/> is cancelled or <see cref="JobQueueProcessorOptions.MaxMessages"/>
    /// were handled; on cancellation, handlers see their token cancelled and their messages are abandoned. Returns the count handled.
    /// </summary>
    Task<int> RunAsync(Func<ReceivedMessage, CancellationToken, Task> handler, CancellationToken cancellationToken);
}

/// <summary>
/// The <see cref="IJobProcessor"/> for any <see cref="IJobQueue"/> (the in-process queue's): a receive loop per
/// concurrent call, background <see cref="LockRenewal"/> while the handler runs, backoff-and-retry on transient
/// receive failures.
/// </summary>
public sealed class JobQueueProcessor(IJobQueue queue, JobQueueProcessorOptions? options = null) : IJobProcessor
{
    private readonly JobQueueProcessorOptions _options = options ?? new JobQueueProcessorOptions();
    private int _handled;
    private int _claimed;

    /// <inheritdoc />
    public event Action<ReceivedMessage, MessageOutcome, Exception?>? Settled;

    /// <inheritdoc />
    public event Action<Exception>? Error;

    /// <inheritdoc />
    public async Task<int> RunAsync(Func<ReceivedMessage, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        _handled = 0;
        _claimed = 0;
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, _options.MaxConcurrentCalls)).Select(_ => LoopAsync(handler, cancellationToken)));
        return _handled;
    }

    private bool MayTakeAnother() => _options.MaxMessages is not { } max || Volatile.Read(ref _claimed) < max;

    private async Task LoopAsync(Func<ReceivedMessage, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        var backoff = _options.InitialBackoff;
        while (!cancellationToken.IsCancellationRequested && MayTakeAnother())
        {
            IReadOnlyList<ReceivedMessage> batch;
            try
            {
                batch = await queue.ReceiveAsync(1, _options.ReceiveWait, SubQueue.None, cancellationToken);
                backoff = _options.InitialBackoff;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is QueueTransientException or IOException or TimeoutException)
            {
                Error?.Invoke(ex);
                try { await Task.Delay(backoff, cancellationToken); } catch (OperationCanceledException) { break; }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
                continue;
            }
            foreach (var message in batch)
            {
                if (_options.MaxMessages is { } max && Interlocked.Increment(ref _claimed) > max)
                {
                    // Another loop reached the limit first: give the message back at once.
                    await SettleAsync(() => queue.AbandonAsync(message, CancellationToken.None), MessageOutcome.Abandoned);
                    continue;
                }
                await HandleOneAsync(message, handler, cancellationToken);
                Interlocked.Increment(ref _handled);
            }
        }
    }

    /// <summary>Handles one received message: renew while working, then settle.</summary>
    public async Task<MessageOutcome> HandleOneAsync(ReceivedMessage message, Func<ReceivedMessage, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(handler);
        var renewal = _options.RenewLock ? LockRenewal.Start(queue, message, _options.RenewInterval, maxDuration: _options.MaxAutoLockRenewalDuration) : null;
        using var work = renewal is null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, renewal.LockLost);
        MessageOutcome outcome;
        Exception? error = null;
        try
        {
            await handler(message, work.Token);
            await StopAsync();
            outcome = await SettleAsync(() => queue.CompleteAsync(message, CancellationToken.None), MessageOutcome.Completed);
        }
        catch (InvalidJobException ex)
        {
            error = ex;
            await StopAsync();
            outcome = await SettleAsync(() => queue.DeadLetterAsync(message, "InvalidJob", Truncate(ex.Message), CancellationToken.None), MessageOutcome.DeadLettered);
        }
        catch (OperationCanceledException ex) when (renewal is not null && renewal.LockLost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            error = ex;
            outcome = MessageOutcome.LockLost;
        }
        catch (Exception ex)
        {
            // A failure, or the worker stopping (graceful shutdown): give the message back for another attempt now
            // rather than when its lock runs out.
            error = ex;
            await StopAsync();
            outcome = await SettleAsync(() => queue.AbandonAsync(message, CancellationToken.None), MessageOutcome.Abandoned);
        }
        finally
        {
            await StopAsync();
        }
        Settled?.Invoke(message, outcome, error);
        return outcome;

        async Task StopAsync()
        {
            if (renewal is null) return;
            await renewal.DisposeAsync();
            renewal = null;
        }
    }

    private static async Task<MessageOutcome> SettleAsync(Func<Task> settle, MessageOutcome ok)
    {
        try
        {
            await settle();
            return ok;
        }
        catch (MessageLockLostException)
        {
            return MessageOutcome.LockLost;
        }
        catch (Exception ex) when (ex is QueueTransientException or IOException or TimeoutException)
        {
            // The connection dropped at settle time: the lock dies with it and the broker redelivers; handlers are idempotent by job id.
            return MessageOutcome.LockLost;
        }
    }

    private static string Truncate(string s) => s.Length <= 4000 ? s : s[..4000];
}
