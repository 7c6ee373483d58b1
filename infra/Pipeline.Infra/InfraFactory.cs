using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Infra;

/// <summary>
/// Picks the implementations from app settings (environment variables in Azure Functions / Container Apps), with the
/// same names the worker's "Pipeline" configuration section binds: an explicit Kind wins, else Azure when its
/// settings are present, else the embedded local defaults. Composition roots
/// (functions handler, worker) call this once; the rest of the code only sees <see cref="IBlobStore"/> and <see cref="IJobQueue"/>.
/// </summary>
public static class InfraFactory
{
    /// <summary>Blob: "local" or "azure" (optional; inferred from the other settings).</summary>
    public const string StorageKind = "Pipeline__Storage__Kind";
    /// <summary>Blob: connection string (Azurite, SAS, key).</summary>
    public const string StorageConnectionString = "Pipeline__Storage__ConnectionString";
    /// <summary>Blob: service URI for Entra ID (managed identity).</summary>
    public const string StorageServiceUri = "Pipeline__Storage__ServiceUri";
    /// <summary>Blob: container name prefix.</summary>
    public const string StorageContainerPrefix = "Pipeline__Storage__ContainerPrefix";
    /// <summary>Local: root folder of the file-system store.</summary>
    public const string StorageLocalRoot = "Pipeline__Storage__Root";
    /// <summary>Blob: client id of the user-assigned managed identity.</summary>
    public const string StorageManagedIdentityClientId = "Pipeline__Storage__ManagedIdentityClientId";
    /// <summary>Queue: "inprocess" or "servicebus" (optional; inferred from the other settings).</summary>
    public const string QueueKind = "Pipeline__Queue__Kind";
    /// <summary>Service Bus: namespace host or endpoint (Entra ID unless a key is given).</summary>
    public const string ServiceBusNamespace = "Pipeline__Queue__FullyQualifiedNamespace";
    /// <summary>Service Bus: SAS connection string.</summary>
    public const string ServiceBusConnectionString = "Pipeline__Queue__ConnectionString";
    /// <summary>Queue name (default "jobs").</summary>
    public const string ServiceBusQueueName = "Pipeline__Queue__QueueName";
    /// <summary>Service Bus: client id of the user-assigned managed identity.</summary>
    public const string QueueManagedIdentityClientId = "Pipeline__Queue__ManagedIdentityClientId";

    /// <summary>Optional HMAC key for job ids.</summary>
    public const string JobIdKey = "Pipeline__JobIdKey";

    /// <summary>Job id options from the settings (HMAC when <see cref="JobIdKey"/> is set, plain SHA-256 otherwise).</summary>
    public static Contracts.JobIdOptions CreateJobIdOptions(Func<string, string?> setting)
    {
        ArgumentNullException.ThrowIfNull(setting);
        var key = setting(JobIdKey);
        return new Contracts.JobIdOptions { Key = string.IsNullOrEmpty(key) ? null : System.Text.Encoding.UTF8.GetBytes(key) };
    }

    /// <summary>The blob store the settings ask for; <paramref name="defaultLocalRoot"/> when none are set.</summary>
    public static IBlobStore CreateBlobStore(Func<string, string?> setting, string defaultLocalRoot)
    {
        ArgumentNullException.ThrowIfNull(setting);
        var cs = setting(StorageConnectionString);
        var uri = setting(StorageServiceUri);
        var kind = setting(StorageKind)?.ToLowerInvariant();
        if (kind is not (null or "" or "local" or "azure"))
            throw new InvalidOperationException($"{StorageKind} '{kind}' is not one of: local, azure.");
        if (kind == "azure" || (kind != "local" && (!string.IsNullOrWhiteSpace(cs) || !string.IsNullOrWhiteSpace(uri))))
        {
            return new AzureBlobStore(new AzureBlobStoreOptions
            {
                ConnectionString = string.IsNullOrWhiteSpace(cs) ? null : cs,
                ServiceUri = string.IsNullOrWhiteSpace(uri) ? null : new Uri(uri),
                ManagedIdentityClientId = setting(StorageManagedIdentityClientId),
                ContainerPrefix = setting(StorageContainerPrefix) ?? "",
                // With a connection string we are on Azurite or a dev account and may create containers; in Azure, Bicep does.
                CreateContainers = !string.IsNullOrWhiteSpace(cs),
            });
        }
        return new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = setting(StorageLocalRoot) ?? defaultLocalRoot });
    }

    /// <summary>
    /// The job queue the settings ask for. Without Service Bus settings: a new in-process queue, owned by the caller (a
    /// composition root that needs one queue for two parts, like `pipeline demo`, passes that object to both).
    /// </summary>
    public static IJobQueue CreateJobQueue(Func<string, string?> setting, QueueEntityOptions? localEntity = null)
    {
        ArgumentNullException.ThrowIfNull(setting);
        var name = setting(ServiceBusQueueName) ?? "jobs";
        var cs = setting(ServiceBusConnectionString);
        var ns = setting(ServiceBusNamespace);
        var kind = setting(QueueKind)?.ToLowerInvariant();
        if (kind is not (null or "" or "inprocess" or "servicebus"))
            throw new InvalidOperationException($"{QueueKind} '{kind}' is not one of: inprocess, servicebus.");
        if (kind == "servicebus" || (kind != "inprocess" && (!string.IsNullOrWhiteSpace(cs) || !string.IsNullOrWhiteSpace(ns))))
        {
            return new ServiceBusJobQueue(new ServiceBusOptions
            {
                ConnectionString = string.IsNullOrWhiteSpace(cs) ? null : cs,
                FullyQualifiedNamespace = string.IsNullOrWhiteSpace(ns) ? null : ns,
                QueueName = name,
                ManagedIdentityClientId = setting(QueueManagedIdentityClientId),
            });
        }
        return new InProcessJobQueue(name, localEntity);
    }
}
