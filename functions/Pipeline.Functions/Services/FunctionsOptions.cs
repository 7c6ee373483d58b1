using Pipeline.Infra;

namespace Pipeline.Functions.Services;

/// <summary>Queue names per job kind (configuration <c>Pipeline:Queues</c>; the bicep sets them as app settings).</summary>
public sealed record QueueNames
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Pipeline:Queues";
    /// <summary>Translation jobs (Council GAN, pix2pixHD).</summary>
    public string Translate { get; init; } = "jobs-translate";
    /// <summary>StyleGAN2 projection jobs.</summary>
    public string Project { get; init; } = "jobs-project";
    /// <summary>Augmentation (and metrics) batches.</summary>
    public string Augment { get; init; } = "jobs-augment";
}

/// <summary>How HTTP callers are authorized (configuration <c>Pipeline:Http</c>).</summary>
public sealed record HttpAuthOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Pipeline:Http";
    /// <summary>
    /// <c>Keys</c>: a function key in <c>x-functions-key</c> or <c>?code=</c> (local runs, tests);
    /// <c>EasyAuth</c>: App Service authentication has validated an Entra token and set X-MS-CLIENT-PRINCIPAL-ID (Azure).
    /// Anything else denies every call (fail closed).
    /// </summary>
    public string Auth { get; init; } = "";
    /// <summary>Accepted function keys in <c>Keys</c> mode (<c>Pipeline:Http:Keys:0</c>, <c>:1</c>, ...).</summary>
    public IReadOnlyList<string> Keys { get; init; } = [];
}

/// <summary>Result links (configuration <c>Pipeline:Sas</c>).</summary>
public sealed record SasOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Pipeline:Sas";
    /// <summary>Default lifetime of a results link.</summary>
    public TimeSpan DefaultLifetime { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>Longest lifetime a caller may ask for.</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>Scheduled augmentation (configuration <c>Pipeline:Augmentation</c>).</summary>
public sealed record AugmentationOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Pipeline:Augmentation";
    /// <summary>The config blob listing the batches to enqueue per schedule slot.</summary>
    public string ConfigBlob { get; init; } = "datasets/augmentation-schedule.json";
}

/// <summary>The face check of selfie uploads (configuration <c>Pipeline:Uploads</c>, beside the validation limits).</summary>
public sealed record FaceCheckOptions
{
    /// <summary>Configuration section (shared with <see cref="Pipeline.Infra.Uploads.UploadValidationOptions"/>).</summary>
    public const string Section = "Pipeline:Uploads";
    /// <summary><c>off</c> disables the check; anything else (default) checks when the cascade file exists.</summary>
    public string FaceDetection { get; init; } = "on";
    /// <summary>Haar cascade file (default: Debian opencv-data's).</summary>
    public string? FaceCascadePath { get; init; }
    /// <summary>True unless switched off.</summary>
    public bool Enabled => !string.Equals(FaceDetection, "off", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Data storage (configuration <c>Pipeline:Storage</c>), as infra's <see cref="InfraFactory"/> reads it (shared with the worker).</summary>
public sealed record StorageSettings
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Pipeline:Storage";
    /// <summary><c>local</c> or <c>azure</c> (optional; inferred from the other settings).</summary>
    public string? Kind { get; init; }
    /// <summary>Connection string (Azurite, dev accounts).</summary>
    public string? ConnectionString { get; init; }
    /// <summary>Blob endpoint for Entra ID (managed identity).</summary>
    public string? ServiceUri { get; init; }
    /// <summary>Container name prefix.</summary>
    public string? ContainerPrefix { get; init; }
    /// <summary>Root folder of the file-system store.</summary>
    public string? Root { get; init; }
    /// <summary>Client id of the user-assigned managed identity.</summary>
    public string? ManagedIdentityClientId { get; init; }
}

/// <summary>Job queues (configuration <c>Pipeline:Queue</c>), as infra's <see cref="InfraFactory"/> reads them.</summary>
public sealed record QueueSettings
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Pipeline:Queue";
    /// <summary><c>inprocess</c> or <c>servicebus</c> (optional; inferred from the other settings).</summary>
    public string? Kind { get; init; }
    /// <summary>Service Bus namespace host (Entra ID).</summary>
    public string? FullyQualifiedNamespace { get; init; }
    /// <summary>Service Bus connection string.</summary>
    public string? ConnectionString { get; init; }
    /// <summary>Client id of the user-assigned managed identity.</summary>
    public string? ManagedIdentityClientId { get; init; }
    /// <summary>True when the settings select in-process queues (local runs).</summary>
    public bool IsInProcess => string.Equals(Kind, "inprocess", StringComparison.OrdinalIgnoreCase)
        || (string.IsNullOrEmpty(Kind) && string.IsNullOrEmpty(FullyQualifiedNamespace) && string.IsNullOrEmpty(ConnectionString));
}

/// <summary>Settings directly under <c>Pipeline</c>.</summary>
public sealed record PipelineSettings
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Pipeline";
    /// <summary>Optional HMAC key for job ids (deterministic ids that cannot be derived from an upload's name and ETag).</summary>
    public string? JobIdKey { get; init; }
}

/// <summary>
/// The bound storage and queue options in the shape <see cref="InfraFactory"/> takes (its setting names), so the
/// functions build their store and queues with the same factory as the worker, from options bound once.
/// </summary>
public sealed record InfraSettings(StorageSettings Storage, QueueSettings Queue, string? JobIdKey)
{
    /// <summary>The setting function for <see cref="InfraFactory"/>; <paramref name="queueName"/> names the queue to open.</summary>
    public Func<string, string?> For(string? queueName = null) => name => name switch
    {
        InfraFactory.StorageKind => Storage.Kind,
        InfraFactory.StorageConnectionString => Storage.ConnectionString,
        InfraFactory.StorageServiceUri => Storage.ServiceUri,
        InfraFactory.StorageContainerPrefix => Storage.ContainerPrefix,
        InfraFactory.StorageLocalRoot => Storage.Root,
        InfraFactory.StorageManagedIdentityClientId => Storage.ManagedIdentityClientId,
        InfraFactory.QueueKind => Queue.Kind,
        InfraFactory.ServiceBusNamespace => Queue.FullyQualifiedNamespace,
        InfraFactory.ServiceBusConnectionString => Queue.ConnectionString,
        InfraFactory.QueueManagedIdentityClientId => Queue.ManagedIdentityClientId,
        InfraFactory.ServiceBusQueueName => queueName,
        InfraFactory.JobIdKey => JobIdKey,
        _ => null,
    };
}
