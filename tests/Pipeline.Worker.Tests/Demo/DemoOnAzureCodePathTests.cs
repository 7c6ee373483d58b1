using System.CommandLine;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Infra.Tests.Services;
using Pipeline.Testing.ServiceBus;
using Pipeline.Worker.Cli;

namespace Pipeline.Worker.Tests.Demo;

/// <summary>
/// The demo on the Azure code path: blobs in a real Azurite, jobs through the Azure.Messaging.ServiceBus SDK to the
/// Service-Bus-compatible test broker (peek-lock, the SDK's lock renewal on $management, dispositions).
/// </summary>
public sealed class DemoOnAzureCodePathTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "demo-azure-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_out)) Directory.Delete(_out, recursive: true);
    }

    [Fact]
    public async Task DemoRunsAgainstAzuriteAndTheAmqpPeer()
    {
        azurite.Require();
        await using var bus = ServiceBusTestBroker.Start(new BrokerQueueOptions { MaxDeliveryCount = 3, LockDuration = TimeSpan.FromSeconds(30) });
        var busConnection = bus.ConnectionString;
        var root = new RootCommand();
        foreach (var c in CliCommands.Discover()) root.Subcommands.Add(c.Build());
        int exit = await root.Parse(["demo", "--out", _out, "--steps", "5", "--timeout-seconds", "600",
            "--storage-connection-string", azurite.ConnectionString!, "--servicebus-connection-string", busConnection])
            .InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(0, exit);

        // Nothing was written locally: the results are in Azurite.
        Assert.False(Directory.Exists(Path.Combine(_out, "data", "results")));
        var store = new AzureBlobStore(new AzureBlobStoreOptions { ConnectionString = azurite.ConnectionString, ContainerPrefix = "" });
        var statuses = new List<JobStatus>();
        var service = new Azure.Storage.Blobs.BlobServiceClient(azurite.ConnectionString);
        await foreach (var container in service.GetBlobContainersAsync(cancellationToken: TestContext.Current.CancellationToken))
        {
            if (!container.Name.EndsWith("status", StringComparison.Ordinal)) continue;
            var prefixed = new AzureBlobStore(new AzureBlobStoreOptions { ConnectionString = azurite.ConnectionString, ContainerPrefix = container.Name[..^"status".Length] });
            await foreach (var b in prefixed.ListAsync("status/", TestContext.Current.CancellationToken))
                if (b.Path != Pipeline.Infra.Indexes.JobStateIndex.HeadPath) // the dashboard's job-state index beside the documents
                    statuses.Add((await prefixed.GetJsonAsync<JobStatus>(b.Path, TestContext.Current.CancellationToken))!);
            // The gallery's StyleGAN2 mixing grids went to the same storage account as everything else.
            foreach (var range in new[] { "coarse", "middle" })
            {
                var bytes = await prefixed.GetBytesAsync($"datasets/demo-mixgrid/mix-{range}.json", TestContext.Current.CancellationToken);
                Assert.NotNull(bytes);
                var grid = System.Text.Json.JsonSerializer.Deserialize<MixManifest>(bytes.Value.Bytes, MixManifest.Json);
                Assert.Equal(MixManifest.KindNameStyleGan2, grid?.Kind);
                Assert.NotNull(await prefixed.GetPropertiesAsync("datasets/demo-mixgrid/" + grid!.Grid.Image, TestContext.Current.CancellationToken));
            }
        }
        Assert.NotEmpty(statuses);
        Assert.Contains(statuses, s => s.Kind == JobKind.Projection && s.State == JobState.Succeeded);
        Assert.Contains(statuses, s => s.Kind == JobKind.Augmentation && s.State == JobState.Succeeded);
        Assert.All(statuses, s => Assert.True(s.State is JobState.Succeeded or JobState.Failed, $"{s.JobId}: {s.State}"));
        // Every job went through the broker: the queue is empty and what was sent was settled there.
        var queue = Assert.Single(bus.QueueNames);
        Assert.Equal(0, bus.ActiveCount(queue));
        Assert.True(bus.Counters(queue).Completed + bus.Counters(queue).DeadLettered >= statuses.Count, $"completed {bus.Counters(queue).Completed}, dead-lettered {bus.Counters(queue).DeadLettered}, statuses {statuses.Count}");
        GC.KeepAlive(store);
    }
}
