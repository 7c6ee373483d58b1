using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Pipeline.Functions.Local;
using Pipeline.Infra.Storage;
using Pipeline.Tests;

namespace Pipeline.Functions.Tests.Gallery;

/// <summary>`--local`: the dashboard and gallery over a local store without the Functions host.</summary>
public sealed class LocalHostTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void TheLocalRoutesAreTheHttpFunctionsOfTheBuiltMetadata()
    {
        var metadata = FunctionsMetadata.Load()
            .Where(f => (string?)FunctionsMetadata.Trigger(f.Value)["type"] == "httpTrigger")
            .ToDictionary(f => f.Key, f => FunctionsMetadata.Trigger(f.Value));
        Assert.Equal(metadata.Keys.Order(StringComparer.Ordinal), HttpFunctionRoute.All.Select(r => r.Function));
        foreach (var route in HttpFunctionRoute.All)
        {
            var trigger = metadata[route.Function];
            Assert.Equal((string?)trigger["route"], route.Template);
            Assert.Equal(trigger["methods"]!.AsArray().Select(m => ((string)m!).ToUpperInvariant()), route.Methods);
            Assert.Equal((string?)trigger["authLevel"], route.AuthLevel.ToString());
        }
    }

    [Theory]
    [InlineData("GET", "/api/jobs/not-a-job", 400, "bad_job_id")]
    [InlineData("GET", "/api/jobs/not-a-job/results", 400, "bad_job_id")]
    [InlineData("GET", "/api/jobs/trn-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 404, "job_not_found")]
    [InlineData("POST", "/api/jobs", 400, "bad_request")]
    [InlineData("GET", "/api/gallery/batches/nope", 404, "batch_not_found")]
    [InlineData("GET", "/api/gallery/elsewhere", 404, "not_found")]
    [InlineData("POST", "/api/gallery/more", 400, "bad_request")]
    [InlineData("GET", "/api/metrics?gallery=101", 400, "bad_request")]
    [InlineData("GET", "/api/dashboard/nope.css", 404, "not_found")]
    public async Task RequestsReachTheFunctionOfTheirRoute(string method, string path, int status, string code)
    {
        await using var site = await LocalSite.StartAsync(_ => Task.CompletedTask);
        using var http = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("x-functions-key", LocalSite.Key);
        if (method == "POST") request.Content = new StringContent("[1]", System.Text.Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request, Ct);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(code, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync(Ct))!["code"]);
    }

    [Theory]
    [InlineData("POST", "/api/metrics", 405)]
    [InlineData("GET", "/api/jobs/a/b/c", 404)]
    [InlineData("GET", "/api/nothing", 404)]
    public async Task UnknownRoutesAndMethodsAreRefusedByRouting(string method, string path, int status)
    {
        await using var site = await LocalSite.StartAsync(_ => Task.CompletedTask);
        using var http = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Add("x-functions-key", LocalSite.Key);
        using var response = await http.SendAsync(request, Ct);
        Assert.Equal(status, (int)response.StatusCode);
    }

    [Fact]
    public async Task TheGalleryAndItsImagesAreServedFromALocalStoreBehindAKeyWithExpiringLinks()
    {
        await using var site = await LocalSite.StartAsync(store => GallerySeed.SeedAsync(store, 3, Ct));
        using var http = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        using (var denied = await http.GetAsync("/api/gallery", Ct)) Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
        using (var page = await http.GetAsync($"/api/dashboard/gallery.html?code={LocalSite.Key}", Ct))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("gallery.js", await page.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
            Assert.NotEmpty(page.Headers.GetValues("Content-Security-Policy"));
        }

        var index = JsonNode.Parse(await http.GetStringAsync($"/api/gallery?code={LocalSite.Key}", Ct))!;
        var cover = (string)index["collections"]!.AsArray().Single(c => (string?)c!["batchId"] == GallerySeed.V2Batch)!["cover"]!["url"]!;
        Assert.StartsWith($"/api/_blobs/datasets/{GallerySeed.V2Batch}/thumbs/00000.png?exp=", cover, StringComparison.Ordinal);
        var bytes = await http.GetByteArrayAsync(cover, Ct);
        Assert.Equal((await site.Store.GetBytesAsync($"datasets/{GallerySeed.V2Batch}/thumbs/00000.png", Ct))!.Value.Bytes, bytes);

        // A link for another blob, a changed signature, or a changed expiry is refused.
        foreach (var forged in new[]
        {
            cover.Replace("thumbs/00000.png", "thumbs/00001.png", StringComparison.Ordinal),
            cover[..^4] + "0000",
            cover.Replace("exp=", "exp=9", StringComparison.Ordinal),
            $"/api/_blobs/results/secret/output-0.png?exp=99999999999&sig=00",
        })
        {
            using var r = await http.GetAsync(forged, Ct);
            Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        }
    }

    [Fact]
    public async Task NoLogLineCarriesTheKey()
    {
        await using var site = await LocalSite.StartAsync(store => GallerySeed.SeedAsync(store, 3, Ct));
        using var http = new HttpClient { BaseAddress = new Uri(site.BaseUrl) };
        foreach (var path in new[] { "/api/dashboard", "/api/gallery", "/api/metrics", "/api/jobs/x", "/api/nothing" })
        {
            using (await http.GetAsync($"{path}?code={LocalSite.Key}", Ct)) { }
            using var withHeader = new HttpRequestMessage(HttpMethod.Get, path);
            withHeader.Headers.Add("x-functions-key", LocalSite.Key);
            using (await http.SendAsync(withHeader, Ct)) { }
        }
        using (await http.PostAsync($"/api/gallery/more?code={LocalSite.Key}", new StringContent("{\"batchId\":\"" + GallerySeed.V2Batch + "\",\"index\":0,\"mode\":\"nearby\"}"), Ct)) { }
        Assert.NotEmpty(site.Logs.Lines); // the capture sees the host's lines (startup), so it would see request lines too
        Assert.DoesNotContain(site.Logs.Lines, l => l.Contains(LocalSite.Key, StringComparison.Ordinal));
        Assert.DoesNotContain(LocalSite.Key, new LocalOptions(site.Data, 0, LocalSite.Key).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AMissingDataFolderIsAOneLineErrorWithExitCode2()
    {
        var exe = Path.Combine(AppContext.BaseDirectory, "Pipeline.Functions.dll");
        var psi = new ProcessStartInfo("dotnet", [exe, "--local", "--data", Path.Combine(Path.GetTempPath(), "no-such-folder-" + Guid.NewGuid().ToString("N"))])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var process = Process.Start(psi)!;
        var stderr = await process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        Assert.Equal(2, process.ExitCode);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
