namespace Pipeline.Infra.Queue;

/// <summary>
/// The queue settings that code and Bicep must agree on, in one place. <c>bicep/modules/servicebus.bicep</c> and
/// <c>bicep/main.bicep</c> declare the same defaults (a deployment test compares them), and main.bicep hands its
/// value to the workers as <c>Pipeline__MaxDeliveryCount</c>.
/// </summary>
public static class QueueDefaults
{
    /// <summary>
    /// Deliveries before Service Bus dead-letters a message (reason MaxDeliveryCountExceeded); the worker marks a job
    /// failed on the attempt that reaches it. Bicep: <c>param maxDeliveryCount int = 5</c>.
    /// </summary>
    public const int MaxDeliveryCount = 5;

    /// <summary>Peek-lock duration of the queues. Bicep: <c>param lockDuration string = 'PT5M'</c>.</summary>
    public static readonly TimeSpan LockDuration = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a worker keeps renewing the lock of the job in hand: longer than the longest GPU job (a 1000-step
    /// projection of a batch, or a metrics job over a large set, takes well under an hour on one GPU).
    /// </summary>
    public static readonly TimeSpan MaxAutoLockRenewalDuration = TimeSpan.FromHours(2);
}
