using Azure.Core;

namespace Pipeline.Infra.Queue;

/// <summary>
/// Options of <see cref="ServiceBusJobQueue"/>. Authentication, in order: <see cref="ConnectionString"/> or
/// <see cref="SharedAccessKeyName"/>+<see cref="SharedAccessKey"/> (SASL PLAIN; only where the namespace allows local
/// auth), else Entra ID through CBS put-token with <see cref="Credential"/> (default: DefaultAzureCredential with
/// <see cref="ManagedIdentityClientId"/>).
/// App settings: <c>Pipeline__Queue__FullyQualifiedNamespace</c>, <c>Pipeline__Queue__ConnectionString</c>,
/// <c>Pipeline__Queue__QueueName</c>, <c>Pipeline__Queue__ManagedIdentityClientId</c>.
/// </summary>
public sealed record ServiceBusOptions
{
    /// <summary>Namespace host ("myns.servicebus.windows.net") or a full endpoint ("amqps://host:5671", "amqp://127.0.0.1:5672").</summary>
    public string? FullyQualifiedNamespace { get; init; }
    /// <summary>"Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...[;EntityPath=...]".</summary>
    public string? ConnectionString { get; init; }
    /// <summary>SAS key name (SASL PLAIN user).</summary>
    public string? SharedAccessKeyName { get; init; }
    /// <summary>SAS key (SASL PLAIN password).</summary>
    public string? SharedAccessKey { get; init; }
    /// <summary>Entra ID credential for CBS; null = DefaultAzureCredential.</summary>
    public TokenCredential? Credential { get; init; }
    /// <summary>Client id of a user-assigned managed identity for the default credential.</summary>
    public string? ManagedIdentityClientId { get; init; }
    /// <summary>Queue (entity) name; the connection string's EntityPath wins when present.</summary>
    public string QueueName { get; init; } = "jobs";
    /// <summary>Assumed lock duration when the broker does not send x-opt-locked-until (e.g. plain AMQP brokers).</summary>
    public TimeSpan DefaultLockDuration { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Timeout of one broker round trip (attach, send, management request).</summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>First delay before reconnecting after a failure; doubles up to <see cref="MaxReconnectBackoff"/>.</summary>
    public TimeSpan InitialReconnectBackoff { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>Longest reconnect delay.</summary>
    public TimeSpan MaxReconnectBackoff { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Renew CBS tokens this long before they expire (at most half their lifetime).</summary>
    public TimeSpan TokenRefreshMargin { get; init; } = TimeSpan.FromMinutes(5);
    /// <summary>Token scope for Service Bus.</summary>
    public string TokenScope { get; init; } = "https://servicebus.azure.net/.default";
    /// <summary>
    /// Node address format for the queue. Service Bus: "{0}". RabbitMQ 3.x AMQP 1.0 plugin: "/amq/queue/{0}" (existing queue).
    /// </summary>
    public string AddressFormat { get; init; } = "{0}";
}
