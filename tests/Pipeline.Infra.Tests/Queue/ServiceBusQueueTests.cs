using Pipeline.Infra.Queue;
using Pipeline.Testing.ServiceBus;

namespace Pipeline.Infra.Tests.Queue;

/// <summary>The queue contract through the Azure.Messaging.ServiceBus SDK against the Service-Bus-compatible test broker.</summary>
public sealed class ServiceBusQueueTests : QueueContract
{
    private ServiceBusTestBroker? _broker;

    internal static BrokerQueueOptions BrokerOptions(QueueEntityOptions e) => new()
    {
        LockDuration = e.LockDuration,
        MaxDeliveryCount = e.MaxDeliveryCount,
        RequiresDuplicateDetection = e.RequiresDuplicateDetection,
        DuplicateDetectionWindow = e.DuplicateDetectionWindow,
    };

    internal static ServiceBusOptions ClientOptions(ServiceBusTestBroker broker, string queue = "jobs") => new()
    {
        ConnectionString = broker.ConnectionString,
        QueueName = queue,
        MaxRetries = 3,
        RetryDelay = TimeSpan.FromMilliseconds(100),
        MaxRetryDelay = TimeSpan.FromSeconds(1),
        TryTimeout = TimeSpan.FromSeconds(10),
    };

    protected override Task<IJobQueue> CreateQueueAsync()
    {
        _broker = Own(ServiceBusTestBroker.Start(BrokerOptions(Entity)));
        return OpenAnotherClientAsync();
    }

    // A connection of its own, as a second worker process would have.
    protected override Task<IJobQueue> OpenAnotherClientAsync() =>
        Task.FromResult<IJobQueue>(Own(new ServiceBusJobQueue(ClientOptions(_broker!) with { SharedConnection = false })));
}
