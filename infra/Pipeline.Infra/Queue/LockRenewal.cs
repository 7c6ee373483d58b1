namespace Pipeline.Infra.Queue;

/// <summary>
/// Keeps a message's lock alive in the background while long work runs on a queue without its own renewal (the
/// in-process queue; the Service Bus SDK's processor renews by itself). GAN work can outlast the 5-minute maximum
/// lock duration. Renews every <c>interval</c>; when a renewal says the lock is lost, <see cref="LockLost"/> is
/// cancelled so the work can stop early: another consumer may already hold the message.
/// </summary>
public sealed class LockRenewal : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly CancellationTokenSource _lost = new();
    private readonly Task _loop;

    private LockRenewal(IJobQueue queue, ReceivedMessage message, TimeSpan interval, TimeSpan maxDuration, TimeProvider time)
    {
        _loop = RunAsync(queue, message, interval, time.GetUtcNow() + maxDuration, time);
    }

    /// <summary>Cancelled when the lock is lost.</summary>
    public CancellationToken LockLost => _lost.Token;

    /// <summary>Renewals that succeeded.</summary>
    public int Renewals { get; private set; }

    /// <summary>The error that ended renewals, if any.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>
    /// Starts renewing. Default interval: half the time left on the lock (at least 50 ms), so one late renewal
    /// still lands before expiry. Renewals stop after <paramref name="maxDuration"/> (default <see cref="QueueDefaults.MaxAutoLockRenewalDuration"/>).
    /// </summary>
    public static LockRenewal Start(IJobQueue queue, ReceivedMessage message, TimeSpan? interval = null, TimeProvider? timeProvider = null, TimeSpan? maxDuration = null)
    {
        ArgumentNullException.ThrowIfNull(queue);
        ArgumentNullException.ThrowIfNull(message);
        var time = timeProvider ?? TimeProvider.System;
        var every = interval ?? TimeSpan.FromMilliseconds(Math.Max(50, (message.LockedUntil - time.GetUtcNow()).TotalMilliseconds / 2));
        return new LockRenewal(queue, message, every, maxDuration ?? QueueDefaults.MaxAutoLockRenewalDuration, time);
    }

    private async Task RunAsync(IJobQueue queue, ReceivedMessage message, TimeSpan interval, DateTimeOffset renewUntil, TimeProvider time)
    {
        var transientFailures = 0;
        while (!_stop.IsCancellationRequested && time.GetUtcNow() < renewUntil)
        {
            try
            {
                await Task.Delay(interval, time, _stop.Token);
                await queue.RenewLockAsync(message, _stop.Token);
                Renewals++;
                transientFailures = 0;
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (MessageLockLostException ex)
            {
                Failure = ex;
                await _lost.CancelAsync();
                return;
            }
            catch (Exception ex)
            {
                // A dropped connection: keep trying until the lock would have expired anyway.
                Failure = ex;
                if (++transientFailures > 3 && time.GetUtcNow() >= message.LockedUntil)
                {
                    await _lost.CancelAsync();
                    return;
                }
            }
        }
    }

    /// <summary>Stops renewing (call before settling the message).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
