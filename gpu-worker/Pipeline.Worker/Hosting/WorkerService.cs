using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipeline.Infra.Queue;
using Pipeline.Worker.Jobs;

namespace Pipeline.Worker.Hosting;

/// <summary>
/// The worker loop: the queue's processor (Service Bus: the SDK's ServiceBusProcessor) receives with peek-lock,
/// runs up to <see cref="PipelineSettings.Concurrency"/> jobs at once with their locks renewed, and settles each by
/// the runner's outcome: complete, abandon (transient failure) or dead-letter with reason and description (invalid
/// job). On SIGTERM the jobs in hand are cancelled and abandoned at once so another replica picks them up; nothing
/// is half committed because result.json is written last.
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
        var processor = queue.CreateProcessor(options with { MaxConcurrentCalls = Math.Max(1, settings.Concurrency) });
        processor.Settled += (m, outcome, error) =>
        {
            Interlocked.Increment(ref _handled);
            heartbeat.Touch();
            if (error is null) logger.LogInformation("Message {MessageId}: {Outcome}", m.MessageId, outcome);
            else logger.LogWarning("Message {MessageId}: {Outcome} ({Error})", m.MessageId, outcome, error.Message);
        };
        processor.Error += e => logger.LogWarning("Queue {Queue}: {Error} (recovering)", queue.Name, e.Message);
        await processor.RunAsync(runner.HandleAsync, stoppingToken);
        logger.LogInformation("Worker stopped");
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
