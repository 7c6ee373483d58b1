using System.Web;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Pipeline.Functions.Services;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>
/// Result links in Azure: a user-delegation SAS (Azurite cannot issue delegation keys without OAuth, so the service is
/// a stand-in that hands out a key; the SAS itself is built and signed by the real Azure.Storage.Sas code).
/// </summary>
public sealed class UserDelegationLinkSignerTests
{
    private sealed class DelegatingService : BlobServiceClient
    {
        public int KeyRequests;

        public DelegatingService() : base(new Uri("https://stgandata.blob.core.windows.net/"), new Azure.Identity.DefaultAzureCredential()) { }

        public override string AccountName => "stgandata";

        public override Task<Response<UserDelegationKey>> GetUserDelegationKeyAsync(DateTimeOffset? startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref KeyRequests);
            var key = BlobsModelFactory.UserDelegationKey("11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222",
                startsOn ?? DateTimeOffset.UtcNow, expiresOn, "b", "2025-11-05", Convert.ToBase64String(new byte[32]));
            return Task.FromResult(Response.FromValue(key, null!));
        }
    }

    [Fact]
    public async Task LinksAreReadOnlyHttpsBlobScopedAndSignedWithTheDelegationKey()
    {
        var service = new DelegatingService();
        var signer = new UserDelegationLinkSigner(service, TimeProvider.System);
        var url = await signer.SignAsync("results/trn-abc/output-0.png", TimeSpan.FromMinutes(10), TestContext.Current.CancellationToken);
        Assert.NotNull(url);
        Assert.Equal("/results/trn-abc/output-0.png", url!.AbsolutePath);
        var q = HttpUtility.ParseQueryString(url.Query);
        Assert.Equal("r", q["sp"]);
        Assert.Equal("b", q["sr"]);
        Assert.Equal("https", q["spr"]);
        Assert.Equal("11111111-1111-1111-1111-111111111111", q["skoid"]); // user-delegation SAS, not an account-key SAS
        Assert.False(string.IsNullOrEmpty(q["sig"]));
        var expires = DateTimeOffset.Parse(q["se"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10.5));

        // The delegation key is reused while it outlives the requested links.
        await signer.SignAsync("results/trn-abc/output-1.png", TimeSpan.FromMinutes(10), TestContext.Current.CancellationToken);
        Assert.Equal(1, service.KeyRequests);
    }

    [Fact]
    public async Task OnlyBlobLayoutPathsCanBeSigned()
    {
        var signer = new UserDelegationLinkSigner(new DelegatingService(), TimeProvider.System);
        await Assert.ThrowsAsync<ArgumentException>(() => signer.SignAsync("../secrets/x", TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<ArgumentException>(() => signer.SignAsync("nowhere/x.png", TimeSpan.FromMinutes(1), TestContext.Current.CancellationToken));
    }
}
