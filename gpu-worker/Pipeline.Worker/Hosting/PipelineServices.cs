using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Worker.Hosting;

/// <summary>Builds the storage and queue implementations named by <see cref="PipelineSettings"/>.</summary>
public static class PipelineServices
{
    public static IBlobStore CreateStore(StorageSettings s) => s.Kind.ToLowerInvariant() switch
    {
        "local" => new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Path.GetFullPath(s.Root) }),
        "azure" => new AzureBlobStore(new AzureBlobStoreOptions
        {
            ServiceUri = s.ServiceUri,
            ConnectionString = s.ConnectionString,
            ManagedIdentityClientId = s.ManagedIdentityClientId,
        }),
        _ => throw new InvalidOperationException($"Pipeline:Storage:Kind '{s.Kind}' is not one of: local, azure"),
    };

    public static IJobQueue CreateQueue(QueueSettings q) => q.Kind.ToLowerInvariant() switch
    {
        "inprocess" => new InProcessJobQueue(q.QueueName, new QueueEntityOptions { LockDuration = q.LockDuration, MaxDeliveryCount = q.MaxDeliveryCount }),
        "servicebus" => new ServiceBusJobQueue(new ServiceBusOptions
        {
            FullyQualifiedNamespace = q.FullyQualifiedNamespace,
            ConnectionString = q.ConnectionString,
            ManagedIdentityClientId = q.ManagedIdentityClientId,
            QueueName = q.QueueName,
            DefaultLockDuration = q.LockDuration,
        }),
        _ => throw new InvalidOperationException($"Pipeline:Queue:Kind '{q.Kind}' is not one of: inprocess, servicebus"),
    };

    /// <summary>"cuda" when asked for or when "auto" finds a GPU; otherwise "cpu".</summary>
    public static string ResolveDevice(string device) => device.ToLowerInvariant() switch
    {
        "auto" => TorchSharp.torch.cuda.is_available() ? "cuda" : "cpu",
        "cuda" when !TorchSharp.torch.cuda.is_available() => throw new InvalidOperationException("Device 'cuda' was requested but CUDA is not available (is the CUDA libtorch on LD_LIBRARY_PATH?)"),
        var d => d,
    };
}
