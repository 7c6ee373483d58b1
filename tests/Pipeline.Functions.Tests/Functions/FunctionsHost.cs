using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Functions.Local;
using Pipeline.Functions.Services;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>
/// The isolated worker's container, built exactly as Program.cs builds it (<see cref="FunctionsApp.CreateBuilder"/>),
/// with a local file-system store and in-process queues; no Functions host. Functions are called as the worker calls
/// them: trigger functions with a test <see cref="FunctionContext"/>, HTTP functions with a
/// <see cref="DefaultHttpContext"/> whose returned result is executed.
/// </summary>
public sealed class FunctionsHost : IAsyncDisposable
{
    public const string Key = "test-function-key-0123456789";

    private readonly IHost _host;
    private readonly Dictionary<string, InProcessJobQueue> _queues = new(StringComparer.Ordinal);

    public FunctionsHost(Action<Dictionary<string, string?>>? settings = null, QueueEntityOptions? queueOptions = null, Action<IServiceCollection>? services = null)
    {
        Root = Directory.CreateTempSubdirectory("functions-store-").FullName;
        var config = new Dictionary<string, string?>
        {
            ["Pipeline:Storage:Root"] = Root,
            ["Pipeline:Http:Auth"] = "Keys",
            ["Pipeline:Http:Keys:0"] = Key,
            // Synthetic test images have no faces; the face check has its own tests.
            ["Pipeline:Uploads:FaceDetection"] = "off",
        };
        settings?.Invoke(config);
        _host = FunctionsApp.CreateBuilder([], c => c.AddInMemoryCollection(config), s =>
        {
            s.AddSingleton<Func<string, IJobQueue>>(_ => name =>
            {
                lock (_queues)
                {
                    if (!_queues.TryGetValue(name, out var q)) _queues[name] = q = new InProcessJobQueue(name, queueOptions);
                    return q;
                }
            });
            s.AddSingleton<ILoggerProvider>(Logs);
            services?.Invoke(s);
        }).Build();
        Store = Services.GetRequiredService<IBlobStore>();
    }

    public string Root { get; }
    public IBlobStore Store { get; }
    public IServiceProvider Services => _host.Services;
    public LogCapture Logs { get; } = new();

    /// <summary>A function class, activated from the container as the worker activates it.</summary>
    public T Function<T>() where T : notnull => ActivatorUtilities.CreateInstance<T>(Services);

    /// <summary>The in-process queue of that name (created on first use, like the functions do).</summary>
    public InProcessJobQueue Queue(string name)
    {
        Services.GetRequiredService<JobQueueProvider>().Named(name);
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

    /// <summary>
    /// ValidateUpload as the blob trigger calls it: the content, and trigger metadata (name, Uri, Properties with the
    /// ETag and length, user Metadata) as the worker passes it in the binding data (objects as JSON text).
    /// </summary>
    public Task<ValidateUploadResult> UploadAsync(string name, byte[] content, string etag = "0x8DD0A1B2C3D4E5F", string contentType = "image/jpeg",
        IReadOnlyDictionary<string, string>? metadata = null, long? declaredLength = null)
    {
        var bindingData = new Dictionary<string, object?>
        {
            ["name"] = name,
            ["BlobTrigger"] = "uploads/" + name,
            ["Uri"] = "https://stgandata.blob.core.windows.net/uploads/" + Uri.EscapeDataString(name),
            ["Properties"] = JsonSerializer.Serialize(new Dictionary<string, object?>
            {
                ["ContentLength"] = declaredLength ?? content.Length,
                ["ContentType"] = contentType,
                ["ETag"] = $"\"{etag}\"",
                ["LastModified"] = "2026-11-22T14:03:11+00:00",
                ["BlobType"] = "BlockBlob",
            }),
            ["Metadata"] = JsonSerializer.Serialize(metadata ?? new Dictionary<string, string>()),
        };
        return Function<ValidateUpload>().RunAsync(content, new TestFunctionContext(ValidateUpload.Name, bindingData, Services), name);
    }

    /// <summary>ScheduleAugmentation as the timer calls it, with the monitor's schedule status.</summary>
    public Task<ScheduleAugmentationResult> TimerAsync(DateTimeOffset last, DateTimeOffset next) =>
        Function<ScheduleAugmentation>().RunAsync(new TimerInfo
        {
            ScheduleStatus = new ScheduleStatus { Last = last.UtcDateTime, Next = next.UtcDateTime, LastUpdated = last.UtcDateTime },
            IsPastDue = false,
        }, TestContext.Current.CancellationToken);

    /// <summary>
    /// Calls an HTTP function with a <see cref="DefaultHttpContext"/> (method, path under /api/, query, headers, body)
    /// and its route values, executes the returned result, and returns the response.
    /// </summary>
    public async Task<(int Status, string Body, IHeaderDictionary Headers)> InvokeHttpAsync(string function, string method, string path,
        object? query = null, object? routeParams = null, string? body = null, bool withKey = true, Dictionary<string, string>? headers = null)
    {
        var route = HttpFunctionRoute.All.Single(r => r.Function == function);
        await using var scope = Services.CreateAsyncScope();
        var context = HttpContexts.Create(scope.ServiceProvider, method, "/api/" + path, ToMap(query), body);
        if (withKey) context.Request.Headers["x-functions-key"] = Key;
        foreach (var (k, v) in headers ?? []) context.Request.Headers[k] = v;
        await HttpFunctionRoute.InvokeAsync(route, context, ToMap(routeParams));
        return HttpContexts.Read(context);
    }

    private static Dictionary<string, string?> ToMap(object? values) =>
        values is null ? [] : JsonSerializer.SerializeToNode(values)!.AsObject().ToDictionary(p => p.Key, p => p.Value?.ToString());

    public async ValueTask DisposeAsync()
    {
        if (_host is IAsyncDisposable d) await d.DisposeAsync(); else _host.Dispose();
        foreach (var q in _queues.Values) await q.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Requests and responses over <see cref="DefaultHttpContext"/>.</summary>
public static class HttpContexts
{
    public static DefaultHttpContext Create(IServiceProvider services, string method, string path, IReadOnlyDictionary<string, string?>? query = null, string? body = null)
    {
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = method;
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("localhost", 7071);
        context.Request.Path = path;
        if (query is { Count: > 0 }) context.Request.QueryString = QueryString.Create(query);
        if (body is not null)
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            context.Request.Body = new MemoryStream(bytes);
            context.Request.ContentLength = bytes.Length;
            context.Request.ContentType = "application/json";
        }
        context.Response.Body = new MemoryStream();
        return context;
    }

    public static (int Status, string Body, IHeaderDictionary Headers) Read(HttpContext context)
    {
        context.Response.Body.Position = 0;
        var text = new StreamReader(context.Response.Body).ReadToEnd();
        return (context.Response.StatusCode, text, context.Response.Headers);
    }
}

/// <summary>A <see cref="FunctionContext"/> for calling trigger functions without a host: binding data and services.</summary>
public sealed class TestFunctionContext(string functionName, IReadOnlyDictionary<string, object?> bindingData, IServiceProvider services) : FunctionContext
{
    private sealed class Binding(IReadOnlyDictionary<string, object?> data) : BindingContext
    {
        public override IReadOnlyDictionary<string, object?> BindingData { get; } = data;
    }

    public override string InvocationId { get; } = Guid.NewGuid().ToString();
    public override string FunctionId { get; } = functionName;
    public override TraceContext TraceContext => throw new NotSupportedException();
    public override BindingContext BindingContext { get; } = new Binding(bindingData);
    public override RetryContext RetryContext => throw new NotSupportedException();
    public override IServiceProvider InstanceServices { get; set; } = services;
    public override FunctionDefinition FunctionDefinition => throw new NotSupportedException();
    public override IDictionary<object, object> Items { get; set; } = new Dictionary<object, object>();
    public override IInvocationFeatures Features => throw new NotSupportedException();
    public override CancellationToken CancellationToken => TestContext.Current.CancellationToken;
}

/// <summary>Every log line written through the container's loggers.</summary>
public sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyList<string> Lines => [.. _lines];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

    public void Dispose() { }

    private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
    }
}
