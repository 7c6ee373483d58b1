using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Infra.Queue;
using Pipeline.Worker.Jobs;

namespace Pipeline.Worker.Hosting;

/// <summary>
/// The worker loop: receive with peek-lock, run the job (lock renewed in the background), settle. On SIGTERM the
/// job in hand is cancelled and abandoned at once so another replica picks it up; nothing is half committed
/// because result.json is written last.
/// </summary>
public sealed class WorkerService(IJobQueue queue, JobRunner runner, JobQueueProcessorOptions options, PipelineSettings settings, ILogger<WorkerService> logger, HeartbeatFile heartbeat) : BackgroundService
{
    /// <summary>Messages handled so far (for tests and the demo).</summary>
    public int Handled => _handled;

    private int _handled;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        heartbeat.Touch();
        using var beat = new Timer(_ => heartbeat.Touch(), null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, settings.Concurrency)).Select(_ => ConsumeAsync(stoppingToken)));
    }

    private async Task ConsumeAsync(CancellationToken stoppingToken)
    {
        var processor = new JobQueueProcessor(queue, options);
        processor.Settled += (m, outcome, error) =>
        {
            Interlocked.Increment(ref _handled);
            heartbeat.Touch();
            if (error is null) logger.LogInformation("Message {MessageId}: {Outcome}", m.MessageId, outcome);
            else logger.LogWarning("Message {MessageId}: {Outcome} ({Error})", m.MessageId, outcome, error.Message);
        };
        try
        {
            await processor.RunAsync(async (message, ct) =>
            {
                try
                {
                    await runner.HandleAsync(message, ct);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    try { await queue.AbandonAsync(message, CancellationToken.None); }
                    catch (Exception e) { logger.LogWarning("Could not abandon {MessageId} on shutdown ({Error}); its lock will expire", message.MessageId, e.Message); }
                    throw;
                }
            }, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            logger.LogInformation("Worker stopped");
        }
    }
}

/// <summary>A file whose modification time says the worker loop is alive (the container health probe reads it).</summary>
public sealed class HeartbeatFile(string path)
{
    public string Path { get; } = path;

    public void Touch()
    {
        try { File.WriteAllText(Path, DateTimeOffset.UtcNow.ToString("O")); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>True when the file was touched within <paramref name="maxAge"/>.</summary>
    public bool IsFresh(TimeSpan maxAge) => File.Exists(Path) && DateTime.UtcNow - File.GetLastWriteTimeUtc(Path) < maxAge;
}
