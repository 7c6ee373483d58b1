using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pipeline.Functions.Local;
using Pipeline.Functions.Services;
using Pipeline.Functions.Tests.Functions;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Gallery;

/// <summary>
/// `--local` as `dotnet run -- --local --data DIR --port 0 --key KEY` starts it (<see cref="LocalHost.Create"/>) over
/// a temporary data folder, on 127.0.0.1. Records which blob links were fetched (lazy loading) and every log line.
/// </summary>
public sealed class LocalSite : IAsyncDisposable
{
    public const string Key = "local-test-key-0123456789";

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<string> _fetched = new();

    private LocalSite(WebApplication app, string data, ConcurrentQueue<string> fetched, LogCapture logs)
    {
        _app = app;
        Data = data;
        _fetched = fetched;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = address.TrimEnd('/');
    }

    public string BaseUrl { get; }
    public string Data { get; }
    public LogCapture Logs { get; }
    public IServiceProvider Services => _app.Services;
    public IBlobStore Store => _app.Services.GetRequiredService<IBlobStore>();

    /// <summary>Blob paths fetched through the local blob links so far, in order.</summary>
    public IReadOnlyList<string> FetchedBlobs => [.. _fetched];

    /// <summary>Seeds the data folder with <paramref name="seed"/>, then starts the local host over it.</summary>
    public static async Task<LocalSite> StartAsync(Func<IBlobStore, Task> seed)
    {
        var data = Directory.CreateTempSubdirectory("local-site-").FullName;
        await seed(new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = data }));
        var fetched = new ConcurrentQueue<string>();
        var logs = new LogCapture();
        var app = LocalHost.Create(new LocalOptions(data, 0, Key), [], b => { b.Logging.ClearProviders(); b.Logging.AddProvider(logs); }, s => s.AddSingleton<IStartupFilter>(new RecordBlobFetches(fetched)));
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new LocalSite(app, data, fetched, logs);
    }

    /// <summary>All messages currently in an in-process queue of the site (received and abandoned again, so they stay).</summary>
    public async Task<IReadOnlyList<ReceivedMessage>> PeekAllAsync(string name)
    {
        var q = Services.GetRequiredService<JobQueueProvider>().Named(name);
        var got = await q.ReceiveAsync(100, TimeSpan.FromMilliseconds(50), cancellationToken: TestContext.Current.CancellationToken);
        foreach (var m in got) await q.AbandonAsync(m, TestContext.Current.CancellationToken);
        return got;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try { Directory.Delete(Data, recursive: true); } catch (IOException) { }
    }

    private sealed class RecordBlobFetches(ConcurrentQueue<string> fetched) : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (ctx, proceed) =>
            {
                if (ctx.Request.Path.StartsWithSegments(LocalHost.BlobPrefix.TrimEnd('/'), out var rest))
                    fetched.Enqueue(Uri.UnescapeDataString(rest.Value!.TrimStart('/')));
                await proceed(ctx);
            });
            next(app);
        };
    }
}
