using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Pipeline.Engine;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Indexes;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Metrics;

namespace Pipeline.Worker.Jobs;

/// <summary>Options of <see cref="JobRunner"/>.</summary>
public sealed record JobRunnerOptions
{
    /// <summary>Largest batch handlers use at first (halved after each CUDA out-of-memory error).</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>The queue's max delivery count: the attempt that reaches it marks the status failed.</summary>
    public int MaxDeliveryCount { get; init; } = QueueDefaults.MaxDeliveryCount;
    /// <summary>Name recorded in results.</summary>
    public string WorkerName { get; init; } = Environment.MachineName;
    /// <summary>How often a running job's progress is written to its status document.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Device recorded in results ("cpu", "cuda").</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>
    /// Free MKL's per-thread matrix buffers whenever no job is running (<see cref="MathLibraryBuffers"/>). The worker
    /// host sets it: there every torch call runs inside a job. Off by default, because in a process where torch also
    /// runs outside jobs (tests, tools) the buffers could be freed under such a call.
    /// </summary>
    public bool ReleaseMathBuffersWhenIdle { get; init; }
}

/// <summary>
/// Turns one queued message into results: idempotent by job id (an existing result.json means done), status
/// documents at each step, result.json written last with If-None-Match:* as the completion marker, per-job
/// metric lines, permanent failures dead-lettered, transient ones abandoned for redelivery, CUDA OOM retried
/// in-process with a smaller batch.
/// </summary>
public sealed class JobRunner(IBlobStore store, ModelCache models, IEnumerable<IJobHandler> handlers, JobRunnerOptions options, ILogger<JobRunner> logger, TimeProvider? time = null)
{
    private readonly IJobHandler[] _handlers = handlers.ToArray();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task HandleAsync(ReceivedMessage message, CancellationToken cancellationToken)
    {
        var envelope = message.ReadEnvelope(); // InvalidJobException -> dead-lettered by the processor
        using var activity = WorkerTelemetry.Source.StartActivity("job " + envelope.Kind);
        activity?.SetTag("job.id", envelope.JobId);
        activity?.SetTag("job.attempt", message.DeliveryCount);
        var resultPath = BlobLayout.ResultDocument(envelope.JobId);
        if (await store.GetPropertiesAsync(resultPath, cancellationToken) is not null)
        {
            logger.LogInformation("Job {JobId} already has results; completing the redelivered message without recomputing", envelope.JobId);
            await WriteStatusAsync(envelope, JobState.Succeeded, message.DeliveryCount, "already completed", resultPath, cancellationToken);
            // An earlier delivery may have stopped between its result and the gallery index: index again (idempotent by path).
            await IndexAsync(envelope, [resultPath], fromResult: true, cancellationToken);
            return;
        }
        var handler = _handlers.FirstOrDefault(h => h.CanHandle(envelope.Job))
                      ?? throw new InvalidJobException($"this worker has no handler for {envelope.Kind} jobs of this variant");
        var started = _time.GetUtcNow();
        if (message.EnqueuedTime != default) WorkerTelemetry.QueueWait.Record((started - message.EnqueuedTime).TotalSeconds);
        await WriteStatusAsync(envelope, JobState.Running, message.DeliveryCount, null, null, cancellationToken);
        using var mathWork = options.ReleaseMathBuffersWhenIdle ? MathLibraryBuffers.EnterWork() : null;
        var batch = Math.Max(1, options.MaxBatch);
        while (true)
        {
            double progress = 0;
            var context = new JobContext(envelope, store, models, message.DeliveryCount, batch, p => Volatile.Write(ref progress, p));
            var sw = Stopwatch.StartNew();
            using var reporting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var reporter = ReportProgressAsync(envelope, message.DeliveryCount, () => Volatile.Read(ref progress), reporting.Token);
            try
            {
                IReadOnlyDictionary<string, double> metrics;
                try
                {
                    metrics = await handler.RunAsync(context, cancellationToken);
                }
                finally
                {
                    // Stop progress writes before any final status, so a late one cannot overwrite it.
                    await reporting.CancelAsync();
                    await reporter;
                }
                var finished = _time.GetUtcNow();
                var result = new JobResult
                {
                    JobId = envelope.JobId,
                    Kind = envelope.Kind,
                    Job = envelope.Job,
                    Outputs = context.Outputs,
                    Metrics = metrics,
                    Note = context.Note,
                    StartedAt = started,
                    FinishedAt = finished,
                    Worker = options.WorkerName,
                    Device = options.Device,
                };
                if (!await store.TryCreateAsync(resultPath, JobJson.ToUtf8(result), "application/json", cancellationToken: cancellationToken))
                    logger.LogWarning("Job {JobId}: another delivery committed its result first; keeping that one", envelope.JobId);
                await WriteStatusAsync(envelope, JobState.Succeeded, message.DeliveryCount, context.Note, resultPath, cancellationToken);
                await IndexAsync(envelope, context.Outputs.Select(o => o.Path).Append(resultPath), fromResult: false, cancellationToken);
                await WriteJobMetricAsync(envelope, metrics, sw.Elapsed, started - message.EnqueuedTime, cancellationToken);
                WorkerTelemetry.JobDuration.Record(sw.Elapsed.TotalSeconds, new KeyValuePair<string, object?>("kind", envelope.Kind.ToString()));
                WorkerTelemetry.Jobs.Add(1, new("kind", envelope.Kind.ToString()), new("outcome", "succeeded"));
                return;
            }
            catch (Exception e) when (IsOutOfMemory(e) && batch > 1)
            {
                batch /= 2;
                logger.LogWarning("Job {JobId}: out of GPU memory; retrying with batch {Batch}", envelope.JobId, batch);
                GC.Collect();
            }
            catch (Exception e) when (e is PermanentJobException or InvalidJobException or Operations.UnusableInputException)
            {
                WorkerTelemetry.Jobs.Add(1, new("kind", envelope.Kind.ToString()), new("outcome", "failed"));
                await WriteStatusAsync(envelope, JobState.Failed, message.DeliveryCount, e.Message, null, CancellationToken.None);
                throw e as InvalidJobException ?? new InvalidJobException(e.Message, e);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // A second delivery of this job (a lock lost under load) may have finished it meanwhile: its result and
                // Succeeded status stand, and the redelivery will only complete the message (see the check above).
                if (await store.GetPropertiesAsync(resultPath, CancellationToken.None) is null)
                    await WriteStatusAsync(envelope, JobState.Queued, message.DeliveryCount, "worker stopped during the job; it will be redelivered", null, CancellationToken.None);
                throw;
            }
            catch (Exception e)
            {
                bool last = message.DeliveryCount >= options.MaxDeliveryCount;
                WorkerTelemetry.Jobs.Add(1, new("kind", envelope.Kind.ToString()), new("outcome", last ? "failed" : "retrying"));
                logger.LogError(e, "Job {JobId} attempt {Attempt} failed", envelope.JobId, message.DeliveryCount);
                await WriteStatusAsync(envelope, last ? JobState.Failed : JobState.Retrying, message.DeliveryCount, e.Message, null, CancellationToken.None);
                throw;
            }
        }
    }

    /// <summary>Writes the running status with the handler's progress every <see cref="JobRunnerOptions.ProgressInterval"/> while it changes.</summary>
    private async Task ReportProgressAsync(JobEnvelope envelope, int attempt, Func<double> read, CancellationToken cancellationToken)
    {
        double written = 0;
        using var timer = new PeriodicTimer(options.ProgressInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                var p = read();
                if (p <= written) continue;
                written = p;
                try { await WriteStatusAsync(envelope, JobState.Running, attempt, null, null, cancellationToken, p); }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogWarning("Job {JobId}: progress not written ({Error})", envelope.JobId, e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // The gallery index (what the gallery and dashboard read instead of listing storage): the batch manifest or grid the
    // job wrote and its result document. The documents are the record of truth: an index write that fails is logged.
    private async Task IndexAsync(JobEnvelope envelope, IEnumerable<string> paths, bool fromResult, CancellationToken cancellationToken)
    {
        try
        {
            // fromResult: the outputs (e.g. the batch manifest) as the committed result document lists them.
            if (fromResult && await store.GetJsonAsync<JobResult>(BlobLayout.ResultDocument(envelope.JobId), cancellationToken) is { } done)
                paths = paths.Concat(done.Outputs.Select(o => o.Path));
            await GalleryIndex.RecordAsync(store, paths, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Job {JobId}: gallery index not updated ({Error})", envelope.JobId, e.Message);
        }
    }

    internal static bool IsOutOfMemory(Exception e) =>
        e.Message.Contains("CUDA out of memory", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("CUBLAS_STATUS_ALLOC_FAILED", StringComparison.Ordinal);

    private async Task WriteStatusAsync(JobEnvelope envelope, JobState state, int attempt, string? message, string? resultPath, CancellationToken cancellationToken, double? progress = null)
    {
        var status = new JobStatus
        {
            JobId = envelope.JobId,
            Kind = envelope.Kind,
            State = state,
            UpdatedAt = _time.GetUtcNow(),
            Attempt = attempt,
            Message = message,
            ResultPath = resultPath,
            Progress = state == JobState.Succeeded ? 1 : progress,
        };
        await store.PutJsonAsync(BlobLayout.StatusDocument(envelope.JobId), status, cancellationToken: cancellationToken);
        if (progress is not null) return; // progress ticks leave the dashboard's job-state index alone
        try { await JobStateIndex.RecordAsync(store, [status], cancellationToken); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("Job {JobId}: job-state index not updated ({Error})", envelope.JobId, e.Message);
        }
    }

    // Per-job records use the engine's metric schema, so FID/PPL and job metrics share one reader (the dashboard).
    private Task WriteJobMetricAsync(JobEnvelope envelope, IReadOnlyDictionary<string, double> metrics, TimeSpan duration, TimeSpan queueWait, CancellationToken cancellationToken)
    {
        var settings = metrics.ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
        settings["job_id"] = envelope.JobId;
        if (queueWait > TimeSpan.Zero && queueWait < TimeSpan.FromDays(30)) settings["queue_wait_s"] = queueWait.TotalSeconds;
        var record = new MetricRecord
        {
            Metric = "job_" + envelope.Kind.ToString().ToLowerInvariant(),
            Value = duration.TotalSeconds,
            Status = "ok",
            ModelId = envelope.Job.Model.Path,
            Images = metrics.TryGetValue("images", out var n) ? (long)n : 0,
            Settings = settings,
            DurationSeconds = duration.TotalSeconds,
            Device = options.Device,
            Timestamp = _time.GetUtcNow(),
        };
        return new Pipeline.Worker.Metrics.BlobMetricSink(store).WriteAsync(record, cancellationToken);
    }
}
