using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Functions.Host;
using Pipeline.Infra.Storage;
using Pipeline.Tests;

namespace Pipeline.Functions.Tests.Gallery;

/// <summary>`--local`: the dashboard and gallery over a local store without the Functions host.</summary>
public sealed class LocalFrontDoorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly List<LocalFrontDoor.Route> Routes =
        LocalFrontDoor.ReadRoutes(Path.Combine(TestPaths.RepoRoot, "functions", "Pipeline.Functions"));

    [Theory]
    [InlineData("GET", "gallery", "Gallery", "path", "")]
    [InlineData("GET", "gallery/batches/b-1", "Gallery", "path", "batches/b-1")]
    [InlineData("POST", "gallery/more", "Gallery", "path", "more")]
    [InlineData("GET", "jobs/trn-abc", "JobStatus", "jobId", "trn-abc")]
    [InlineData("GET", "jobs/trn-abc/results", "JobResults", "jobId", "trn-abc")]
    [InlineData("POST", "jobs", "SubmitJob", null, null)]
    [InlineData("GET", "dashboard/gallery.html", "Dashboard", "asset", "gallery.html")]
    [InlineData("GET", "metrics", "Metrics", null, null)]
    public void RoutesComeFromTheFunctionJsonFiles(string method, string path, string function, string? param, string? value)
    {
        var m = LocalFrontDoor.Match(Routes, method, path);
        Assert.NotNull(m);
        Assert.Equal(function, m.Value.Route.Function);
        if (param is not null) Assert.Equal(value, m.Value.Params[param]);
    }

    [Theory]
    [InlineData("POST", "metrics")]
    [InlineData("GET", "jobs/a/b/c")]
    [InlineData("GET", "nothing")]
    public void UnknownRoutesAndMethodsDoNotMatch(string method, string path) =>
        Assert.Null(LocalFrontDoor.Match(Routes, method, path));

    [Fact]
    public async Task TheGalleryAndItsImagesAreServedFromALocalStoreBehindAKeyWithExpiringLinks()
    {
        var data = Directory.CreateTempSubdirectory("local-front-door-").FullName;
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        var app = HandlerApp.Create(["--local", "--data", data, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--key", "local-key"]);
        await using var _ = app;
        var store = app.Services.GetRequiredService<IBlobStore>();
        await GallerySeed.SeedAsync(store, 3, Ct);
        await app.StartAsync(Ct);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            using (var denied = await http.GetAsync("/api/gallery", Ct)) Assert.Equal(HttpStatusCode.Unauthorized, denied.StatusCode);
            using (var page = await http.GetAsync("/api/dashboard/gallery.html?code=local-key", Ct))
            {
                Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                Assert.Contains("gallery.js", await page.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
                Assert.NotEmpty(page.Headers.GetValues("Content-Security-Policy"));
            }

            var index = JsonNode.Parse(await http.GetStringAsync("/api/gallery?code=local-key", Ct))!;
            var cover = (string)index["collections"]!.AsArray().Single(c => (string?)c!["batchId"] == GallerySeed.V2Batch)!["cover"]!["url"]!;
            Assert.StartsWith($"/api/_blobs/datasets/{GallerySeed.V2Batch}/thumbs/00000.png?exp=", cover, StringComparison.Ordinal);
            var bytes = await http.GetByteArrayAsync(cover, Ct);
            Assert.Equal((await store.GetBytesAsync($"datasets/{GallerySeed.V2Batch}/thumbs/00000.png", Ct))!.Value.Bytes, bytes);

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
        finally
        {
            await app.StopAsync(Ct);
            Directory.Delete(data, recursive: true);
        }
    }
}
