using Azure.Messaging.ServiceBus;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Queue;

/// <summary>
/// <see cref="IJobProcessor"/> on a <see cref="ServiceBusProcessor"/>: peek-lock, no prefetch (a prefetched lock would
/// tick away while a GPU job runs), <see cref="JobQueueProcessorOptions.MaxConcurrentCalls"/> handlers at once, the SDK
/// renewing each lock for up to <see cref="JobQueueProcessorOptions.MaxAutoLockRenewalDuration"/>. Outcomes: success =
/// complete; <see cref="InvalidJobException"/> = dead-letter (reason "InvalidJob", the error as description); any
/// other failure = abandon (Service Bus dead-letters at MaxDeliveryCount); a lost lock cancels the handler and leaves
/// the message to the broker; stopping (graceful shutdown) cancels the handlers and abandons their messages.
/// </summary>
internal sealed class ServiceBusJobProcessor(ServiceBusClient client, string queueName, JobQueueProcessorOptions options) : IJobProcessor
{
    /// <inheritdoc />
    public event Action<ReceivedMessage, MessageOutcome, Exception?>? Settled;

    /// <inheritdoc />
    public event Action<Exception>? Error;

    /// <inheritdoc />
    public async Task<int> RunAsync(Func<ReceivedMessage, CancellationToken, Task> handler, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var handled = 0;
        var claimed = 0;
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var processor = client.CreateProcessor(queueName, new ServiceBusProcessorOptions
        {
            ReceiveMode = ServiceBusReceiveMode.PeekLock,
            AutoCompleteMessages = false,
            PrefetchCount = 0,
            MaxConcurrentCalls = Math.Max(1, options.MaxConcurrentCalls),
            MaxAutoLockRenewalDuration = options.RenewLock ? options.MaxAutoLockRenewalDuration : TimeSpan.Zero,
        });
        processor.ProcessMessageAsync += async args =>
        {
            if (options.MaxMessages is { } max && Interlocked.Increment(ref claimed) > max)
            {
                // Received after the last one this run may take: give it back untouched.
                await Settle(() => args.AbandonMessageAsync(args.Message, null, CancellationToken.None), MessageOutcome.Abandoned);
                return;
            }
            var message = ServiceBusJobQueue.FromServiceBus(args.Message, SubQueue.None, ServiceBusJobQueue.Delivery.Of(args));
            await HandleAsync(args, message, handler);
            if (Interlocked.Increment(ref handled) >= options.MaxMessages) enough.TrySetResult();
        };
        processor.ProcessErrorAsync += args =>
        {
            Error?.Invoke(args.Exception);
            return Task.CompletedTask;
        };
        await processor.StartProcessingAsync(CancellationToken.None);
        try
        {
            await enough.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        // Stopping cancels the handlers' tokens and waits for them; each abandons the message in hand.
        await processor.StopProcessingAsync(CancellationToken.None);
        return handled;
    }

    private async Task HandleAsync(ProcessMessageEventArgs args, ReceivedMessage message, Func<ReceivedMessage, CancellationToken, Task> handler)
    {
        using var lockLost = new CancellationTokenSource();
        args.MessageLockLostAsync += _ => lockLost.CancelAsync();
        using var work = CancellationTokenSource.CreateLinkedTokenSource(args.CancellationToken, lockLost.Token);
        MessageOutcome outcome;
        Exception? error = null;
        try
        {
            await handler(message, work.Token);
            outcome = await Settle(() => args.CompleteMessageAsync(args.Message, CancellationToken.None), MessageOutcome.Completed);
        }
        catch (InvalidJobException ex)
        {
            error = ex;
            var description = ex.Message.Length <= 4000 ? ex.Message : ex.Message[..4000];
            outcome = await Settle(() => args.DeadLetterMessageAsync(args.Message, "InvalidJob", description, CancellationToken.None), MessageOutcome.DeadLettered);
        }
        catch (OperationCanceledException ex) when (lockLost.IsCancellationRequested && !args.CancellationToken.IsCancellationRequested)
        {
            error = ex;
            outcome = MessageOutcome.LockLost;
        }
        catch (Exception ex)
        {
            // A failure, or the processor stopping (graceful shutdown): give the message back now.
            error = ex;
            outcome = await Settle(() => args.AbandonMessageAsync(args.Message, null, CancellationToken.None), MessageOutcome.Abandoned);
        }
        Settled?.Invoke(message, outcome, error);
    }

    private static async Task<MessageOutcome> Settle(Func<Task> settle, MessageOutcome ok)
    {
        try
        {
            await settle();
            return ok;
        }
        catch (Exception e) when (ServiceBusJobQueue.TranslateException(e) is not null || e is ObjectDisposedException)
        {
            // Lock lost, or the connection dropped at settle time (the lock dies with it): Service Bus redelivers,
            // and handlers are idempotent by job id.
            return MessageOutcome.LockLost;
        }
    }
}
