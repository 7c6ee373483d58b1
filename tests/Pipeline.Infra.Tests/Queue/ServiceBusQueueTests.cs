using Pipeline.Infra.Queue;

namespace Pipeline.Infra.Tests.Queue;

/// <summary>The queue contract through our AMQP client against the Service-Bus-like test peer (SAS / SASL PLAIN).</summary>
public class ServiceBusQueueTests : QueueContract
{
    protected FakeServiceBus? Bus { get; private set; }

    protected virtual bool UseCbs => false;

    protected virtual ServiceBusOptions ClientOptions(FakeServiceBus bus) => new()
    {
        ConnectionString = $"Endpoint={bus.Endpoint};SharedAccessKeyName={FakeServiceBus.KeyName};SharedAccessKey={FakeServiceBus.Key};EntityPath=jobs",
        OperationTimeout = TimeSpan.FromSeconds(5),
        InitialReconnectBackoff = TimeSpan.FromMilliseconds(50),
        MaxReconnectBackoff = TimeSpan.FromMilliseconds(500),
    };

    protected override Task<IJobQueue> CreateQueueAsync()
    {
        Bus = Own(FakeServiceBus.Start(Entity, UseCbs));
        return OpenAnotherClientAsync();
    }

    protected override Task<IJobQueue> OpenAnotherClientAsync() =>
        Task.FromResult<IJobQueue>(Own(new ServiceBusJobQueue(ClientOptions(Bus!))));
}
