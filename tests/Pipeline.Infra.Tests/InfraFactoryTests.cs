using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Infra.Tests;

public sealed class InfraFactoryTests
{
    [Fact]
    public void No_settings_give_the_embedded_defaults_and_one_shared_local_queue()
    {
        var root = Path.Combine(Path.GetTempPath(), "pipeline-factory-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = InfraFactory.CreateBlobStore(_ => null, root);
            Assert.Equal(Path.GetFullPath(root), Assert.IsType<FileSystemBlobStore>(store).Root);
            var settings = new Dictionary<string, string> { [InfraFactory.ServiceBusQueueName] = "factory-test-" + Guid.NewGuid().ToString("N") };
            var a = InfraFactory.CreateJobQueue(settings.GetValueOrDefault);
            Assert.IsType<InProcessJobQueue>(a);
            // No process-wide state: each call is a queue of its own, which its caller owns.
            Assert.NotSame(a, InfraFactory.CreateJobQueue(settings.GetValueOrDefault));
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, true);
        }
    }

    [Fact]
    public async Task Azure_settings_select_the_azure_implementations()
    {
        var settings = new Dictionary<string, string>
        {
            [InfraFactory.StorageServiceUri] = "https://acct.blob.core.windows.net",
            [InfraFactory.ServiceBusNamespace] = "ns.servicebus.windows.net",
            [InfraFactory.ServiceBusQueueName] = "jobs",
        };
        Assert.IsType<AzureBlobStore>(InfraFactory.CreateBlobStore(settings.GetValueOrDefault, "unused"));
        await using var q = Assert.IsType<ServiceBusJobQueue>(InfraFactory.CreateJobQueue(settings.GetValueOrDefault));
        Assert.Equal("jobs", q.Name);
        Assert.Equal("ns.servicebus.windows.net", q.FullyQualifiedNamespace); // Entra ID on the namespace; nothing connects until used
    }

    [Fact]
    public void An_explicit_kind_wins_and_an_unknown_one_is_refused()
    {
        var root = Path.Combine(Path.GetTempPath(), "pipeline-factory-" + Guid.NewGuid().ToString("N"));
        try
        {
            var settings = new Dictionary<string, string>
            {
                [InfraFactory.StorageKind] = "local",
                [InfraFactory.StorageLocalRoot] = root,
                [InfraFactory.StorageServiceUri] = "https://acct.blob.core.windows.net",
                [InfraFactory.QueueKind] = "inprocess",
                [InfraFactory.ServiceBusNamespace] = "ns.servicebus.windows.net",
                [InfraFactory.ServiceBusQueueName] = "factory-kind-" + Guid.NewGuid().ToString("N"),
            };
            Assert.Equal(Path.GetFullPath(root), Assert.IsType<FileSystemBlobStore>(InfraFactory.CreateBlobStore(settings.GetValueOrDefault, "unused")).Root);
            Assert.IsType<InProcessJobQueue>(InfraFactory.CreateJobQueue(settings.GetValueOrDefault));
            settings[InfraFactory.QueueKind] = "kafka";
            Assert.Contains("inprocess, servicebus", Assert.Throws<InvalidOperationException>(() => InfraFactory.CreateJobQueue(settings.GetValueOrDefault)).Message);
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, true);
        }
    }
}
