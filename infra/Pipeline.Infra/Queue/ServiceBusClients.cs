using Azure.Messaging.ServiceBus;

namespace Pipeline.Infra.Queue;

/// <summary>
/// One <see cref="ServiceBusClient"/> (one AMQP connection) per namespace and identity, shared by every queue the
/// process opens on it (the functions send to three queues), and closed when the last of them is disposed.
/// </summary>
internal static class ServiceBusClients
{
    private static readonly Dictionary<string, (ServiceBusClient Client, int Users)> Shared = new(StringComparer.Ordinal);

    public static ServiceBusClient Acquire(ServiceBusOptions options)
    {
        if (!options.SharedConnection) return options.CreateClient();
        var key = options.ClientKey();
        lock (Shared)
        {
            if (Shared.TryGetValue(key, out var s) && !s.Client.IsClosed)
            {
                Shared[key] = (s.Client, s.Users + 1);
                return s.Client;
            }
            var client = options.CreateClient();
            Shared[key] = (client, 1);
            return client;
        }
    }

    public static async ValueTask ReleaseAsync(ServiceBusOptions options, ServiceBusClient client)
    {
        if (!options.SharedConnection)
        {
            await client.DisposeAsync();
            return;
        }
        var key = options.ClientKey();
        var close = false;
        lock (Shared)
        {
            if (Shared.TryGetValue(key, out var s) && ReferenceEquals(s.Client, client))
            {
                if (s.Users <= 1)
                {
                    Shared.Remove(key);
                    close = true;
                }
                else
                {
                    Shared[key] = (s.Client, s.Users - 1);
                }
            }
            else
            {
                close = true; // replaced after it closed: nobody else holds it
            }
        }
        if (close) await client.DisposeAsync();
    }
}
