namespace Pipeline.Infra.Queue;

/// <summary>
/// Entity properties of a queue, as a Service Bus queue declares them (the in-process queue and the test broker
/// apply them; on Service Bus they are set by Bicep, and the SDK renews locks itself).
/// </summary>
public sealed record QueueEntityOptions
{
    /// <summary>How long a received message stays locked (Service Bus default 1 min, max 5 min).</summary>
    public TimeSpan LockDuration { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Deliveries before the message is dead-lettered with reason MaxDeliveryCountExceeded (<see cref="QueueDefaults.MaxDeliveryCount"/>).</summary>
    public int MaxDeliveryCount { get; init; } = QueueDefaults.MaxDeliveryCount;
    /// <summary>Drop sends whose MessageId was seen within <see cref="DuplicateDetectionWindow"/>.</summary>
    public bool RequiresDuplicateDetection { get; init; } = true;
    /// <summary>Duplicate detection history window (default 10 min).</summary>
    public TimeSpan DuplicateDetectionWindow { get; init; } = TimeSpan.FromMinutes(10);
}
