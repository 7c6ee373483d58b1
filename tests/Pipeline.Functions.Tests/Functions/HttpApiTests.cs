using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>The HTTP functions called with a DefaultHttpContext (their returned result executed), as the worker's ASP.NET Core integration calls them.</summary>
public sealed class HttpApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Every HTTP function in the built functions.metadata, with the method and route it declares (route values
    /// filled in). None is anonymous in effect: the platform auth level is anonymous and the app's gate refuses.
    /// </summary>
    public static TheoryData<string, string, string> HttpFunctionsFromMetadata()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (name, function) in Pipeline.Tests.FunctionsMetadata.Load().OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            var trigger = Pipeline.Tests.FunctionsMetadata.Trigger(function);
            if ((string?)trigger["type"] != "httpTrigger") continue;
            var route = System.Text.RegularExpressions.Regex.Replace((string)trigger["route"]!, @"\{\*?[^}]+\}", "x");
            foreach (var method in trigger["methods"]!.AsArray()) data.Add(name, ((string)method!).ToUpperInvariant(), route);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(HttpFunctionsFromMetadata))]
    public async Task EveryHttpFunctionRefusesCallsWithoutCredentials(string function, string method, string path)
    {
        await using var host = new FunctionsHost();
        var routeValues = Local.HttpFunctionRoute.All.Single(r => r.Function == function).Template.Split('/')
            .Where(s => s.StartsWith('{')).ToDictionary(s => s.Trim('{', '}', '*'), _ => "x");
        var (status, _, _) = await host.InvokeHttpAsync(function, method, path, routeParams: routeValues, withKey: false);
        Assert.Equal(401, status);
        (status, _, _) = await host.InvokeHttpAsync(function, method, path, routeParams: routeValues, withKey: false, headers: new() { ["x-functions-key"] = "wrong" });
        Assert.Equal(401, status);
        (status, _, _) = await host.InvokeHttpAsync(function, method, path, query: new { code = FunctionsHost.Key + "x" }, routeParams: routeValues, withKey: false);
        Assert.Equal(401, status);
        // A principal header means nothing in Keys mode (only App Service authentication may set it, in EasyAuth mode).
        (status, _, _) = await host.InvokeHttpAsync(function, method, path, routeParams: routeValues, withKey: false, headers: new() { ["X-MS-CLIENT-PRINCIPAL-ID"] = "someone" });
        Assert.Equal(401, status);
    }

    [Fact]
    public async Task OnlyTheDocumentedDashboardAssetsLoadWithoutCredentials()
    {
        // docs/functions.md (HTTP authorization): app.js, gallery.js and style.css hold no data; everything else is behind the gate.
        await using var host = new FunctionsHost();
        foreach (var asset in Pipeline.Functions.DashboardApi.PublicAssets)
        {
            var (status, _, _) = await host.InvokeHttpAsync(Pipeline.Functions.DashboardApi.Dashboard, "GET", "dashboard/" + asset, routeParams: new { asset }, withKey: false);
            Assert.Equal(200, status);
        }
        foreach (var asset in new[] { "index.html", "gallery.html", "nope.js" })
        {
            var (status, _, _) = await host.InvokeHttpAsync(Pipeline.Functions.DashboardApi.Dashboard, "GET", "dashboard/" + asset, routeParams: new { asset }, withKey: false);
            Assert.Equal(401, status);
        }
        var docs = File.ReadAllText(Path.Combine(Pipeline.Tests.TestPaths.RepoRoot, "docs", "functions.md"));
        Assert.All(Pipeline.Functions.DashboardApi.PublicAssets, a => Assert.Contains($"`{a}`", docs, StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeysAreAcceptedInTheHeaderOrTheQueryAndAnyConfiguredKeyWorks()
    {
        await using var host = new FunctionsHost(s => s["Pipeline:Http:Keys:1"] = "second-key");
        Assert.Equal(200, (await host.InvokeHttpAsync("Metrics", "GET", "metrics")).Status);
        Assert.Equal(200, (await host.InvokeHttpAsync("Metrics", "GET", "metrics", query: new { code = FunctionsHost.Key }, withKey: false)).Status);
        Assert.Equal(200, (await host.InvokeHttpAsync("Metrics", "GET", "metrics", withKey: false, headers: new() { ["x-functions-key"] = "second-key" })).Status);
        // A prefix or an extension of a key is not the key.
        Assert.Equal(401, (await host.InvokeHttpAsync("Metrics", "GET", "metrics", withKey: false, headers: new() { ["x-functions-key"] = FunctionsHost.Key[..^1] })).Status);
        Assert.Equal(401, (await host.InvokeHttpAsync("Metrics", "GET", "metrics", withKey: false, headers: new() { ["x-functions-key"] = "" })).Status);
    }

    [Fact]
    public async Task WithoutAnAuthModeEveryCallIsRefused()
    {
        await using var host = new FunctionsHost(s => s.Remove("Pipeline:Http:Auth"));
        Assert.Equal(401, (await host.InvokeHttpAsync("Metrics", "GET", "metrics")).Status);
    }

    [Fact]
    public async Task EasyAuthModeAcceptsOnlyCallsCarryingThePrincipal()
    {
        await using var host = new FunctionsHost(s => s["Pipeline:Http:Auth"] = "EasyAuth");
        var (status, _, _) = await host.InvokeHttpAsync("Metrics", "GET", "metrics", withKey: true);
        Assert.Equal(401, status);
        (status, _, _) = await host.InvokeHttpAsync("Metrics", "GET", "metrics", withKey: false, headers: new() { ["X-MS-CLIENT-PRINCIPAL-ID"] = "00000000-0000-0000-0000-000000000001" });
        Assert.Equal(200, status);
    }

    [Fact]
    public async Task SubmitAnExistingUploadThenReadItsStatusAndResults()
    {
        await using var host = new FunctionsHost();
        await host.Store.PutBytesAsync("uploads/selfies/frank.jpg", TestImages.Jpeg(), cancellationToken: Ct);

        var (status, body, _) = await host.InvokeHttpAsync("SubmitJob", "POST", "jobs", body: """{"upload":"selfies/frank.jpg","job":"translate","outputs":2,"seed":7}""");
        Assert.Equal(202, status);
        var job = JsonNode.Parse(body)!["jobs"]!.AsArray().Single()!;
        var jobId = (string)job["jobId"]!;
        var message = Assert.Single(await host.PeekAllAsync("jobs-translate"));
        Assert.Equal(jobId, message.MessageId);
        var spec = Assert.IsType<TranslationJob>(JobEnvelope.Parse(message.Body.Span).Job);
        Assert.Equal(2, spec.Outputs);
        Assert.Equal(7, spec.Seed);

        (status, body, _) = await host.InvokeHttpAsync("JobStatus", "GET", $"jobs/{jobId}", routeParams: new { jobId });
        Assert.Equal(200, status);
        var st = JobJson.FromUtf8<JobStatus>(System.Text.Encoding.UTF8.GetBytes(body));
        Assert.Equal(jobId, st.JobId);
        Assert.Equal(JobState.Queued, st.State);

        (status, _, _) = await host.InvokeHttpAsync("JobResults", "GET", $"jobs/{jobId}/results", routeParams: new { jobId });
        Assert.Equal(409, status); // not finished

        // The worker finishes: result document + status succeeded.
        var output = BlobLayout.Result(jobId, "output-0.png");
        await host.Store.PutBytesAsync(output, TestImages.Png(64, 64), cancellationToken: Ct);
        await host.Store.PutJsonAsync(BlobLayout.ResultDocument(jobId), new JobResult
        {
            JobId = jobId,
            Kind = JobKind.Translation,
            Job = spec,
            Outputs = [new OutputBlob(output, "image/png", 100), new OutputBlob("results/other-job/secret.png", "image/png", 1)],
            StartedAt = DateTimeOffset.UtcNow.AddSeconds(-30),
            FinishedAt = DateTimeOffset.UtcNow,
        }, cancellationToken: Ct);
        await host.Store.PutJsonAsync(BlobLayout.StatusDocument(jobId), st with { State = JobState.Succeeded, ResultPath = BlobLayout.ResultDocument(jobId) }, cancellationToken: Ct);

        (status, body, _) = await host.InvokeHttpAsync("JobResults", "GET", $"jobs/{jobId}/results", query: new { ttl = "5" }, routeParams: new { jobId });
        Assert.Equal(200, status);
        var results = JsonNode.Parse(body)!;
        Assert.Equal(300, (int)results["expiresInSeconds"]!);
        var outputs = results["outputs"]!.AsArray();
        Assert.Equal(output, (string?)Assert.Single(outputs)!["path"]); // a path outside the job's folder is never handed out
    }

    [Theory]
    [InlineData("JobStatus", "not-a-job", 400)]
    [InlineData("JobStatus", "../status/x", 400)]
    [InlineData("JobStatus", "trn-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 404)]
    [InlineData("JobResults", "trn-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 404)]
    public async Task JobIdsAreCheckedBeforeAnyLookup(string function, string jobId, int expected)
    {
        await using var host = new FunctionsHost();
        var (status, body, headers) = await host.InvokeHttpAsync(function, "GET", "jobs/" + jobId, routeParams: new { jobId });
        Assert.Equal(expected, status);
        Assert.Equal("application/problem+json", headers.ContentType.ToString());
        Assert.False(string.IsNullOrEmpty((string?)JsonNode.Parse(body)!["code"]));
    }

    [Theory]
    [InlineData("""{"upload":"../../etc/passwd"}""", 400, "bad_name")]
    [InlineData("""{"upload":"selfies/g.jpg","outputs":99}""", 400, "bad_request")]
    [InlineData("""{"upload":"selfies/g.jpg","job":"rm -rf"}""", 400, "bad_request")]
    [InlineData("""{"upload":"selfies/missing.jpg"}""", 404, "upload_not_found")]
    [InlineData("""[1,2,3]""", 400, "bad_request")]
    [InlineData("""{"name":"selfies/inline.png","image":"aGVsbG8gd29ybGQ="}""", 422, "not_an_image")]
    public async Task SubmitValidatesItsInputWithClear4xx(string requestBody, int expected, string code)
    {
        await using var host = new FunctionsHost();
        await host.Store.PutBytesAsync("uploads/selfies/g.jpg", TestImages.Jpeg(), cancellationToken: Ct);
        var (status, body, _) = await host.InvokeHttpAsync("SubmitJob", "POST", "jobs", body: requestBody);
        Assert.Equal(expected, status);
        Assert.Equal(code, (string?)JsonNode.Parse(body)!["code"]);
        Assert.Empty(await host.PeekAllAsync("jobs-translate"));
    }

    [Fact]
    public async Task SubmitWithAnInlineImageStoresItOnceAndNeverOverwrites()
    {
        await using var host = new FunctionsHost();
        var request = JsonSerializer.Serialize(new { name = "selfies/inline.webp", image = Convert.ToBase64String(TestImages.Webp()), job = "project" });
        var (status, body, _) = await host.InvokeHttpAsync("SubmitJob", "POST", "jobs", body: request);
        Assert.Equal(202, status);
        Assert.Single(await host.PeekAllAsync("jobs-project"));
        var stored = await host.Store.GetPropertiesAsync("uploads/selfies/inline.webp", Ct);
        Assert.NotNull(stored);
        Assert.Equal("project", stored!.Metadata["job"]);

        (status, body, _) = await host.InvokeHttpAsync("SubmitJob", "POST", "jobs", body: request);
        Assert.Equal(409, status);
        Assert.Equal("upload_exists", (string?)JsonNode.Parse(body)!["code"]);
        Assert.Equal(stored.ETag, (await host.Store.GetPropertiesAsync("uploads/selfies/inline.webp", Ct))!.ETag);
    }
}
