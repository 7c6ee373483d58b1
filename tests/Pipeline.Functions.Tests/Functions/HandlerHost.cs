using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Functions;
using Pipeline.Functions.Services;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>
/// The custom handler under TestHost with a local file-system blob store and in-process queues, driven with the
/// payloads the Functions host sends (Payloads/*.json).
/// </summary>
public sealed class HandlerHost : IAsyncDisposable
{
    public const string Key = "test-function-key-0123456789";

    private readonly WebApplication _app;
    private readonly Dictionary<string, InProcessJobQueue> _queues = new(StringComparer.Ordinal);

    public HandlerHost(Action<Dictionary<string, string?>>? settings = null, QueueEntityOptions? queueOptions = null, Action<IServiceCollection>? services = null)
    {
        Root = Directory.CreateTempSubdirectory("functions-store-").FullName;
        var config = new Dictionary<string, string?>
        {
            ["Pipeline:Storage:Root"] = Root,
            ["Pipeline:Http:Auth"] = "Keys",
            ["Pipeline:Http:Keys"] = Key,
            ["Logging:LogLevel:Default"] = "Warning",
            // Synthetic test images have no faces; the face check has its own tests.
            ["Pipeline:Uploads:FaceDetection"] = "off",
        };
        settings?.Invoke(config);
        _app = HandlerApp.Create([], b =>
        {
            b.WebHost.UseTestServer();
            b.Configuration.AddInMemoryCollection(config);
        }, s =>
        {
            s.AddSingleton<Func<string, IJobQueue>>(_ => name =>
            {
                lock (_queues)
                {
                    if (!_queues.TryGetValue(name, out var q)) _queues[name] = q = new InProcessJobQueue(name, queueOptions);
                    return q;
                }
            });
            services?.Invoke(s);
        });
        _app.StartAsync().GetAwaiter().GetResult();
        Client = _app.GetTestClient();
        Store = _app.Services.GetRequiredService<IBlobStore>();
    }

    public string Root { get; }
    public HttpClient Client { get; }
    public IBlobStore Store { get; }
    public IServiceProvider Services => _app.Services;

    /// <summary>The in-process queue of that name (created on first use, like the handler does).</summary>
    public InProcessJobQueue Queue(string name)
    {
        _app.Services.GetRequiredService<JobQueueProvider>().Named(name);
        lock (_queues) return _queues[name];
    }

    /// <summary>All messages currently in a queue (received and abandoned again, so they stay).</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> PeekAllAsync(string name)
    {
        var q = Queue(name);
        var got = await q.ReceiveAsync(100, TimeSpan.FromMilliseconds(50), cancellationToken: TestContext.Current.CancellationToken);
        foreach (var m in got) await q.AbandonAsync(m, TestContext.Current.CancellationToken);
        return got;
    }

    public async Task<(int Status, JsonObject Body)> InvokeAsync(string function, string payload)
    {
        using var content = new StringContent(payload, Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/" + function) { Content = content };
        // Headers the host adds to every invocation.
        request.Headers.Add("X-Azure-Functions-InvocationId", Guid.NewGuid().ToString());
        request.Headers.Add("X-Azure-Functions-HostVersion", "4.1040.300.0");
        request.Headers.UserAgent.ParseAdd("Azure-Functions-Host/4.1040.300.0");
        using var response = await Client.SendAsync(request, TestContext.Current.CancellationToken);
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>Invokes an HTTP function and returns the HTTP output binding (statusCode, headers, body).</summary>
    public async Task<(int Status, string Body, JsonObject Headers)> InvokeHttpAsync(string function, string method, string path,
        object? query = null, object? routeParams = null, string? body = null, bool withKey = true, Dictionary<string, string>? headers = null)
    {
        var h = new Dictionary<string, string[]> { ["Host"] = ["localhost:7071"], ["User-Agent"] = ["tests"] };
        if (withKey) h["x-functions-key"] = [Key];
        foreach (var (k, v) in headers ?? []) h[k] = [v];
        var payload = Payloads.Http(method, path, query ?? new { }, h, routeParams ?? new { }, body);
        var (status, result) = await InvokeAsync(function, payload);
        Assert.Equal(200, status);
        var res = result["Outputs"]!["res"]!.AsObject();
        return ((int)res["statusCode"]!, (string)res["body"]!, res["headers"]!.AsObject());
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        foreach (var q in _queues.Values) await q.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Fills the golden host payloads.</summary>
public static class Payloads
{
    private static string Read(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Functions", "Payloads", name));

    public static string Blob(string name, byte[] content, string etag = "0x8DD0A1B2C3D4E5F", string contentType = "image/jpeg",
        IReadOnlyDictionary<string, string>? metadata = null, long? declaredLength = null) =>
        Read("blob-trigger.json")
            .Replace("{{CONTENT_BASE64}}", Convert.ToBase64String(content))
            .Replace("{{NAME}}", JsonEncodedText.Encode(name).ToString())
            .Replace("{{LENGTH}}", (declaredLength ?? content.Length).ToString())
            .Replace("{{CONTENT_TYPE}}", contentType)
            .Replace("{{ETAG}}", etag)
            .Replace("{{USER_METADATA}}", JsonSerializer.Serialize(metadata ?? new Dictionary<string, string>()));

    public static string Timer(DateTimeOffset last, DateTimeOffset next) =>
        Read("timer.json").Replace("{{LAST}}", last.ToString("O")).Replace("{{NEXT}}", next.ToString("O"));

    public static string Http(string method, string path, object query, object headers, object routeParams, string? body) =>
        Read("http.json")
            .Replace("{{PATH}}", path)
            .Replace("{{METHOD}}", method)
            .Replace("{{QUERY}}", JsonSerializer.Serialize(query))
            .Replace("{{HEADERS}}", JsonSerializer.Serialize(headers))
            .Replace("{{PARAMS}}", JsonSerializer.Serialize(routeParams))
            .Replace("{{BODY}}", body is null ? "null" : JsonSerializer.Serialize(body));
}
