using System.Net;
using System.Text.Json.Nodes;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Infra.Tests.Services;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>The blob-trigger path and result links against Azurite (real Blob REST API, conditional writes, SAS).</summary>
public sealed class AzuriteTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private FunctionsHost Host()
    {
        azurite.Require();
        return new FunctionsHost(s =>
        {
            s.Remove("Pipeline:Storage:Root");
            s["Pipeline:Storage:ConnectionString"] = azurite.ConnectionString;
        });
    }

    [Fact]
    public async Task AcceptedAndRejectedUploadsLandInBlobStorage()
    {
        await using var host = Host();
        var name = $"selfies/{Guid.NewGuid():N}.jpg";
        // The upload lands in the uploads container first (Event Grid fires on BlobCreated), then the trigger runs.
        var image = TestImages.Jpeg();
        var etag = (await host.Store.PutBytesAsync(BlobLayout.Upload(name), image, cancellationToken: Ct)).ETag;
        var result = await host.UploadAsync(name, image, etag: etag.Trim('"'));
        Assert.True(result.Verdict.Accepted, result.Verdict.Message);
        var message = Assert.Single(await host.PeekAllAsync("jobs-translate"));
        var stored = await host.Store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(message.MessageId), Ct);
        Assert.Equal(JobState.Queued, stored!.State);

        // Replay: the conditional create finds the status, Service Bus-style dedup drops the resend.
        await host.UploadAsync(name, image, etag: etag.Trim('"'));
        Assert.Single(await host.PeekAllAsync("jobs-translate"));
        // Without an ETag in the trigger metadata, the function reads the blob's own: the same job.
        var again = await host.Function<ValidateUpload>().ValidateAsync(new UploadEvent(name, image), Ct);
        Assert.Equal(message.MessageId, Assert.Single(again.Published).Job.JobId);

        var bad = $"selfies/{Guid.NewGuid():N}.png";
        var rejected = await host.UploadAsync(bad, TestImages.PngClaiming(30000, 30000));
        Assert.False(rejected.Verdict.Accepted);
        var rejection = await host.Store.GetJsonAsync<Rejection>(BlobLayout.Rejection(bad), Ct);
        Assert.Equal(RejectionReason.DecompressionBomb, rejection!.Reason);
        Assert.Equal("dimensions_too_large", rejection.Details!["code"]);
    }

    [Fact]
    public async Task ResultLinksAreReadOnlyAndShortLived()
    {
        await using var host = Host();
        var spec = new TranslationJob { Model = new BlobRef("models/c.pt"), Variant = TranslationVariant.CouncilSelfieToAnime, Input = new BlobRef($"uploads/selfies/{Guid.NewGuid():N}.jpg", "0x1") };
        var jobId = JobIds.For(spec);
        var output = BlobLayout.Result(jobId, "output-0.png");
        var png = TestImages.Png(32, 32);
        await host.Store.PutBytesAsync(output, png, new BlobPutOptions { ContentType = "image/png" }, Ct);
        await host.Store.PutJsonAsync(BlobLayout.ResultDocument(jobId), new JobResult
        { JobId = jobId, Kind = JobKind.Translation, Job = spec, Outputs = [new OutputBlob(output, "image/png", png.Length)], StartedAt = DateTimeOffset.UtcNow, FinishedAt = DateTimeOffset.UtcNow }, cancellationToken: Ct);
        await host.Store.PutJsonAsync(BlobLayout.StatusDocument(jobId), new JobStatus { JobId = jobId, Kind = JobKind.Translation, State = JobState.Succeeded, UpdatedAt = DateTimeOffset.UtcNow }, cancellationToken: Ct);

        var (status, body, _) = await host.InvokeHttpAsync(JobApi.JobResults, "GET", $"jobs/{jobId}/results", query: new { ttl = "2" }, routeParams: new { jobId });
        Assert.Equal(200, status);
        var url = new Uri((string)JsonNode.Parse(body)!["outputs"]![0]!["url"]!);
        var query = System.Web.HttpUtility.ParseQueryString(url.Query);
        Assert.Equal("r", query["sp"]); // read only
        var expires = DateTimeOffset.Parse(query["se"]!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromSeconds(60), TimeSpan.FromMinutes(2.5));

        using var http = new HttpClient();
        Assert.Equal(png, await http.GetByteArrayAsync(url, Ct));
        using var put = new HttpRequestMessage(HttpMethod.Put, url) { Content = new ByteArrayContent([1, 2, 3]) };
        put.Headers.Add("x-ms-blob-type", "BlockBlob");
        using var denied = await http.SendAsync(put, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, denied.StatusCode);
        // The link names exactly one blob: another result of the same container is not readable with it.
        var sibling = new UriBuilder(url) { Path = url.AbsolutePath.Replace("output-0.png", "result.json", StringComparison.Ordinal) }.Uri;
        using var other = await http.GetAsync(sibling, Ct);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
    }
}
