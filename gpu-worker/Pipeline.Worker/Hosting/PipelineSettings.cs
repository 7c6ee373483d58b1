namespace Pipeline.Worker.Hosting;

/// <summary>
/// Where the pipeline keeps its data and its jobs. Bound from configuration section "Pipeline" (environment
/// variables Pipeline__Storage__Kind, Pipeline__Queue__FullyQualifiedNamespace, ...). The defaults are the
/// embedded ones: a local folder and an in-process queue.
/// </summary>
public sealed record PipelineSettings
{
    public StorageSettings Storage { get; init; } = new();
    public QueueSettings Queue { get; init; } = new();
    /// <summary>Local folder for downloaded, sha256-verified models.</summary>
    public string ModelCache { get; init; } = Path.Combine(Path.GetTempPath(), "pipeline-models");
    /// <summary>Largest batch per forward pass (halved automatically after CUDA out-of-memory).</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>"cpu", "cuda" or "auto" (CUDA when available).</summary>
    public string Device { get; init; } = "auto";
}

public sealed record StorageSettings
{
    /// <summary>"local" (a folder) or "azure" (Blob storage).</summary>
    public string Kind { get; init; } = "local";
    /// <summary>local: the folder holding uploads/, results/, ...</summary>
    public string Root { get; init; } = ".pipeline/data";
    /// <summary>azure: account blob endpoint, used with DefaultAzureCredential (managed identity in Azure).</summary>
    public Uri? ServiceUri { get; init; }
    /// <summary>azure: connection string (Azurite, development). Prefer ServiceUri + identity in Azure.</summary>
    public string? ConnectionString { get; init; }
    /// <summary>azure: client id of a user-assigned managed identity.</summary>
    public string? ManagedIdentityClientId { get; init; }
}

public sealed record QueueSettings
{
    /// <summary>"inprocess" or "servicebus".</summary>
    public string Kind { get; init; } = "inprocess";
    public string QueueName { get; init; } = "jobs";
    /// <summary>servicebus: "&lt;namespace&gt;.servicebus.windows.net" (Entra ID via DefaultAzureCredential).</summary>
    public string? FullyQualifiedNamespace { get; init; }
    /// <summary>servicebus: a SAS connection string (development only; local auth is disabled in our Azure deployment).</summary>
    public string? ConnectionString { get; init; }
    public string? ManagedIdentityClientId { get; init; }
    /// <summary>Must equal the queue's max delivery count so the last attempt marks the job failed.</summary>
    public int MaxDeliveryCount { get; init; } = 5;
    public TimeSpan LockDuration { get; init; } = TimeSpan.FromMinutes(1);
}
