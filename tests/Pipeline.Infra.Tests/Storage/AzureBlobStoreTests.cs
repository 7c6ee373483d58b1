using Pipeline.Infra.Storage;
using Pipeline.Infra.Tests.Services;

namespace Pipeline.Infra.Tests.Storage;

/// <summary>The blob contract against a real Azurite.</summary>
[Trait("Category", "Integration")]
public sealed class AzureBlobStoreTests(AzuriteFixture azurite) : BlobStoreContract, IClassFixture<AzuriteFixture>
{
    private static int _next;

    protected override Task<IBlobStore> CreateStoreAsync()
    {
        azurite.Require();
        // Each test gets its own containers (t<n>-uploads, t<n>-results, ...) so tests stay independent.
        var prefix = $"t{Interlocked.Increment(ref _next)}-{Environment.ProcessId % 1000}-";
        return Task.FromResult<IBlobStore>(new AzureBlobStore(new AzureBlobStoreOptions { ConnectionString = azurite.ConnectionString, ContainerPrefix = prefix }));
    }

    [Fact]
    public void Options_without_an_endpoint_fail_with_what_to_set()
    {
        var ex = Assert.Throws<ArgumentException>(() => new AzureBlobStore(new AzureBlobStoreOptions()));
        Assert.Contains("Pipeline__Storage__ConnectionString", ex.Message);
    }
}
