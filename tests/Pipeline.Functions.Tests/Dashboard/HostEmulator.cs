using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Pipeline.Functions.Host;
using Pipeline.Functions.Tests.Functions;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Dashboard;

/// <summary>
/// Stands in for the Functions host's HTTP front door on 127.0.0.1 (the host itself cannot be installed here): a
/// browser request to /api/... is turned into the HTTP-trigger payload the host would POST to the handler, and the
/// handler's "res" output becomes the HTTP response.
/// </summary>
public sealed class HostEmulator : IAsyncDisposable
{
    private readonly WebApplication _app;

    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _fetched;

    private HostEmulator(WebApplication app, string baseUrl, System.Collections.Concurrent.ConcurrentQueue<string> fetched)
    {
        _app = app;
        BaseUrl = baseUrl;
        _fetched = fetched;
    }

    public string BaseUrl { get; }

    /// <summary>Blob paths fetched through /blobs/ so far, in order.</summary>
    public IReadOnlyList<string> FetchedBlobs => [.. _fetched];

    public static async Task<HostEmulator> StartAsync(HandlerHost handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Map("/api/{**path}", async (HttpContext ctx, string? path) =>
        {
            path ??= "";
            var (function, routeParams) = Route(ctx.Request.Method, path);
            if (function is null) return Results.NotFound();
            var query = ctx.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString());
            var headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.Select(v => v ?? "").ToArray());
            string? body = null;
            if (ctx.Request.ContentLength > 0) body = await new StreamReader(ctx.Request.Body).ReadToEndAsync(ctx.RequestAborted);
            var payload = Payloads.Http(ctx.Request.Method, path, query, headers, routeParams, body);
            var (status, result) = await handler.InvokeAsync(function, payload);
            if (status != 200) return Results.StatusCode(502);
            var res = result["Outputs"]!["res"]!.AsObject();
            foreach (var (k, v) in res["headers"]!.AsObject())
                if (!k.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) ctx.Response.Headers[k] = (string?)v;
            var contentType = (string?)res["headers"]!["Content-Type"] ?? "text/plain";
            return Results.Text((string?)res["body"] ?? "", contentType, statusCode: (int)res["statusCode"]!);
        });
        // Stands in for the storage endpoint that signed links point to; every request is recorded so tests can
        // tell which images a page actually fetched (lazy loading).
        var fetched = new System.Collections.Concurrent.ConcurrentQueue<string>();
        app.MapGet("/blobs/{**path}", async (HttpContext ctx, string path) =>
        {
            fetched.Enqueue(path);
            var blob = await handler.Store.GetBytesAsync(path, ctx.RequestAborted);
            return blob is null ? Results.NotFound() : Results.Bytes(blob.Value.Bytes, LocalFrontDoor.ContentTypeOf(path));
        });
        await app.StartAsync();
        var url = app.Urls.First();
        return new HostEmulator(app, url, fetched);
    }

    // The routes of the function.json files, matched as the local front door matches them.
    private static readonly List<LocalFrontDoor.Route> Routes =
        LocalFrontDoor.ReadRoutes(Path.Combine(Pipeline.Tests.TestPaths.RepoRoot, "functions", "Pipeline.Functions"));

    private static (string? Function, Dictionary<string, string> Params) Route(string method, string path) =>
        LocalFrontDoor.Match(Routes, method, path) is { } m ? (m.Route.Function, m.Params) : (null, new());

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
