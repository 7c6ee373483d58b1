using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Queue;

/// <summary>Options of <see cref="JobQueueProcessor"/>.</summary>
public sealed record JobQueueProcessorOptions
{
    /// <summary>How long one receive call waits for a message.</summary>
    public TimeSpan ReceiveWait { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Renew the lock in the background while the handler runs.</summary>
    public bool RenewLock { get; init; } = true;
    /// <summary>Renewal interval; null = half the remaining lock time.</summary>
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
    /// <summary>Handler failed; message abandoned for another attempt (the broker dead-letters past the max).</summary>
    Abandoned,
    /// <summary>Poison (invalid job); message dead-lettered at once.</summary>
    DeadLettered,
    /// <summary>The lock was lost during the work; not settled (the broker redelivers).</summary>
    LockLost,
}

/// <summary>
/// The receive loop every consumer needs: peek-lock receive, background lock renewal while the handler runs,
/// complete on success, abandon on failure (so the broker's max delivery count turns repeated failure into a
/// dead-letter), dead-letter at once on <see cref="InvalidJobException"/>, and backoff-and-retry on transient
/// transport failures (the AMQP client reconnects on the next call).
/// </summary>
public sealed class JobQueueProcessor(IJobQueue queue, JobQueueProcessorOptions? options = null)
{
    private readonly JobQueueProcessorOptions _options = options ?? new JobQueueProcessorOptions();

    /// <summary>Called after each message with its outcome (logging, metrics, tests).</summary>
    public event Action<ReceivedMessage, MessageOutcome, Exception?>? Settled;

    /// <summary>Runs until cancelled or <see cref="JobQueueProcessorOptions.MaxMessages"/> were handled. Returns the count handled.</summary>
    public async Task<int> RunAsync(Func<ReceivedMessage, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var handled = 0;
        var backoff = _options.InitialBackoff;
        while (!cancellationToken.IsCancellationRequested && (_options.MaxMessages is null || handled < _options.MaxMessages))
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
                try { await Task.Delay(backoff, cancellationToken); } catch (OperationCanceledException) { break; }
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
                continue;
            }
            foreach (var message in batch)
            {
                await HandleOneAsync(message, handler, cancellationToken);
                handled++;
            }
        }
        return handled;
    }

    /// <summary>Handles one received message: renew while working, then settle.</summary>
    public async Task<MessageOutcome> HandleOneAsync(ReceivedMessage message, Func<ReceivedMessage, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(handler);
        var renewal = _options.RenewLock ? LockRenewal.Start(queue, message, _options.RenewInterval) : null;
        using var work = renewal is null
            ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken)
            : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, renewal.LockLost);
        MessageOutcome outcome;
        Exception? error = null;
        try
        {
            await handler(message, work.Token);
            if (renewal is not null) await renewal.DisposeAsync();
            renewal = null;
            outcome = await SettleAsync(() => queue.CompleteAsync(message, cancellationToken), MessageOutcome.Completed);
        }
        catch (InvalidJobException ex)
        {
            error = ex;
            if (renewal is not null) await renewal.DisposeAsync();
            renewal = null;
            outcome = await SettleAsync(() => queue.DeadLetterAsync(message, "InvalidJob", Truncate(ex.Message), cancellationToken), MessageOutcome.DeadLettered);
        }
        catch (OperationCanceledException ex) when (renewal is not null && renewal.LockLost.IsCancellationRequested)
        {
            error = ex;
            outcome = MessageOutcome.LockLost;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            error = ex;
            if (renewal is not null) await renewal.DisposeAsync();
            renewal = null;
            outcome = await SettleAsync(() => queue.AbandonAsync(message, cancellationToken), MessageOutcome.Abandoned);
        }
        finally
        {
            if (renewal is not null) await renewal.DisposeAsync();
        }
        Settled?.Invoke(message, outcome, error);
        return outcome;
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
