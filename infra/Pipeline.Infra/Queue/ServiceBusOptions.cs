using Azure.Core;
using Azure.Identity;
using Azure.Messaging.ServiceBus;

namespace Pipeline.Infra.Queue;

/// <summary>
/// Options of <see cref="ServiceBusJobQueue"/>. In Azure: <see cref="FullyQualifiedNamespace"/> with Entra ID
/// (<see cref="Credential"/>, default DefaultAzureCredential with <see cref="ManagedIdentityClientId"/>: the managed
/// identity; the namespace has local auth disabled). Locally: <see cref="ConnectionString"/> (SAS; with
/// <c>UseDevelopmentEmulator=true</c> for a plain-AMQP emulator or the test broker on loopback).
/// App settings: <c>Pipeline__Queue__FullyQualifiedNamespace</c>, <c>Pipeline__Queue__ConnectionString</c>,
/// <c>Pipeline__Queue__QueueName</c>, <c>Pipeline__Queue__ManagedIdentityClientId</c>.
/// </summary>
public sealed record ServiceBusOptions
{
    /// <summary>Namespace host, "myns.servicebus.windows.net" (a URL's host is taken when a URL is given).</summary>
    public string? FullyQualifiedNamespace { get; init; }
    /// <summary>"Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...[;EntityPath=...][;UseDevelopmentEmulator=true]"; wins over the namespace.</summary>
    public string? ConnectionString { get; init; }
    /// <summary>Entra ID credential; null = DefaultAzureCredential (managed identity in Azure).</summary>
    public TokenCredential? Credential { get; init; }
    /// <summary>Client id of a user-assigned managed identity for the default credential.</summary>
    public string? ManagedIdentityClientId { get; init; }
    /// <summary>Queue (entity) name; the connection string's EntityPath wins when present.</summary>
    public string QueueName { get; init; } = "jobs";
    /// <summary>Share one client (one AMQP connection) with the other queues of this namespace in the process (default); false = a connection of its own.</summary>
    public bool SharedConnection { get; init; } = true;
    /// <summary>Retries of one operation after the first try (<see cref="ServiceBusRetryOptions.MaxRetries"/>).</summary>
    public int MaxRetries { get; init; } = 5;
    /// <summary>First retry delay, growing exponentially (<see cref="ServiceBusRetryOptions.Delay"/>).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(0.8);
    /// <summary>Longest retry delay (<see cref="ServiceBusRetryOptions.MaxDelay"/>).</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Timeout of one try (<see cref="ServiceBusRetryOptions.TryTimeout"/>).</summary>
    public TimeSpan TryTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The SDK's retry options from these settings.</summary>
    public ServiceBusRetryOptions RetryOptions() => new()
    {
        Mode = ServiceBusRetryMode.Exponential,
        MaxRetries = MaxRetries,
        Delay = RetryDelay,
        MaxDelay = MaxRetryDelay,
        TryTimeout = TryTimeout,
    };

    /// <summary>The queue name to use: the connection string's EntityPath, else <see cref="QueueName"/>.</summary>
    public string EntityName() =>
        !string.IsNullOrWhiteSpace(ConnectionString) && ServiceBusConnectionStringProperties.Parse(ConnectionString).EntityPath is { Length: > 0 } path
            ? path
            : QueueName;

    /// <summary>The namespace host for Entra ID.</summary>
    public string NamespaceHost()
    {
        if (string.IsNullOrWhiteSpace(FullyQualifiedNamespace))
            throw new ArgumentException("ServiceBusOptions needs FullyQualifiedNamespace or ConnectionString (set Pipeline__Queue__FullyQualifiedNamespace or Pipeline__Queue__ConnectionString).");
        var ns = FullyQualifiedNamespace.Trim();
        return ns.Contains("://", StringComparison.Ordinal) ? new Uri(ns).Host : ns.TrimEnd('/');
    }

    /// <summary>A new client for these options (a connection string, else the namespace with the credential).</summary>
    public ServiceBusClient CreateClient()
    {
        var clientOptions = new ServiceBusClientOptions
        {
            TransportType = ServiceBusTransportType.AmqpTcp,
            RetryOptions = RetryOptions(),
            Identifier = $"pipeline-{Environment.MachineName}-{Environment.ProcessId}",
        };
        if (!string.IsNullOrWhiteSpace(ConnectionString)) return new ServiceBusClient(ConnectionString, clientOptions);
        var credential = Credential ?? new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = ManagedIdentityClientId });
        return new ServiceBusClient(NamespaceHost(), credential, clientOptions);
    }

    /// <summary>What identifies one connection (queues with the same key share a client).</summary>
    internal string ClientKey() =>
        (!string.IsNullOrWhiteSpace(ConnectionString)
            ? "cs|" + ConnectionString
            : $"ns|{NamespaceHost()}|{ManagedIdentityClientId}|{(Credential is null ? "" : System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Credential).ToString(System.Globalization.CultureInfo.InvariantCulture))}")
        + $"|{MaxRetries}|{RetryDelay.Ticks}|{MaxRetryDelay.Ticks}|{TryTimeout.Ticks}";
}
