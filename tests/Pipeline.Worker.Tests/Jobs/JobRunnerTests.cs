using Microsoft.Extensions.Logging.Abstractions;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Jobs;
using Pipeline.Metrics;

namespace Pipeline.Worker.Tests.Jobs;

/// <summary>The runner's reliability contract, with a scripted handler in place of a model.</summary>
public sealed class JobRunnerTests : IAsyncDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("runner-").FullName;
    private readonly FileSystemBlobStore _store;
    private readonly InProcessJobQueue _queue;
    private readonly ModelCache _models;

    public JobRunnerTests()
    {
        _store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        // A lock far longer than any test: none of these tests is about expiry (shutdown abandons at once), and with
        // 2 s a busy machine (tests in parallel on 2 cores) starved the renewal, lost the lock and skipped the handler.
        _queue = new InProcessJobQueue("jobs", new QueueEntityOptions { LockDuration = TimeSpan.FromMinutes(2), MaxDeliveryCount = 3 });
        _models = new ModelCache(_store, Path.Combine(_root, ".cache"));
    }

    public async ValueTask DisposeAsync()
    {
        await _queue.DisposeAsync();
        _models.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private sealed class ScriptedHandler(Func<JobContext, CancellationToken, Task> body) : IJobHandler
    {
        public int Runs;
        public bool CanHandle(JobSpec job) => true;
        public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Runs);
            await body(context, cancellationToken);
            return new Dictionary<string, double> { ["images"] = 2 };
        }
    }

    private static JobEnvelope NewJob(string upload = "uploads/a.png") => JobEnvelope.Create(new TranslationJob
    {
        Model = new BlobRef("models/council.pt"),
        Input = new BlobRef(upload, "\"etag1\""),
        Variant = TranslationVariant.CouncilSelfieToAnime,
        Outputs = 2,
    }, "test");

    private JobRunner Runner(IJobHandler h) => new(_store, _models, [h], new JobRunnerOptions { MaxDeliveryCount = 3 }, NullLogger<JobRunner>.Instance);

    private static Task WriteTwoOutputs(JobContext c, CancellationToken ct) => Task.WhenAll(
        c.WriteOutputAsync("output-0.png", new byte[] { 1, 2, 3 }, "image/png", "output", ct),
        c.WriteOutputAsync("output-1.png", new byte[] { 4, 5, 6 }, "image/png", "output", ct));

    private async Task<List<string>> ListAsync(string prefix)
    {
        var names = new List<string>();
        await foreach (var p in _store.ListAsync(prefix)) names.Add(p.Path);
        return names;
    }

    [Fact]
    public async Task AHandlersNoteReachesTheResultAndTheStatusMessage()
    {
        var env = NewJob();
        await _queue.SendAsync(JobMessages.ToMessage(env));
        var handler = new ScriptedHandler((c, _) => { c.Note = "skipped: no VGG16 weights"; return Task.CompletedTask; });
        var processor = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { MaxMessages = 1, ReceiveWait = TimeSpan.FromSeconds(1) });
        await processor.RunAsync(Runner(handler).HandleAsync, CancellationToken.None);

        var status = await _store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(env.JobId));
        Assert.Equal((JobState.Succeeded, "skipped: no VGG16 weights"), (status!.State, status.Message));
        var result = await _store.GetJsonAsync<JobResult>(BlobLayout.ResultDocument(env.JobId));
        Assert.Equal("skipped: no VGG16 weights", result!.Note);
        Assert.Empty(result.Outputs);
    }

    [Fact]
    public async Task SuccessWritesOutputsResultStatusAndJobMetric()
    {
        var env = NewJob();
        await _queue.SendAsync(JobMessages.ToMessage(env));
        var handler = new ScriptedHandler(WriteTwoOutputs);
        var processor = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { MaxMessages = 1, ReceiveWait = TimeSpan.FromSeconds(1) });
        await processor.RunAsync(Runner(handler).HandleAsync, CancellationToken.None);

        var status = await _store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(env.JobId));
        Assert.Equal(JobState.Succeeded, status!.State);
        var result = await _store.GetJsonAsync<JobResult>(BlobLayout.ResultDocument(env.JobId));
        Assert.Equal(2, result!.Outputs.Count);
        Assert.All(result.Outputs, o => Assert.NotNull(o.Sha256));
        var blobs = await ListAsync(BlobLayout.MetricPrefix("job_translation"));
        var lines = await _store.ReadJsonLinesAsync<MetricRecord>(Assert.Single(blobs));
        var record = Assert.Single(lines);
        Assert.Equal("ok", record.Status);
        Assert.Equal(2, record.Images);
        Assert.Equal(env.JobId, record.SettingString("job_id"));
        Assert.True(record.Value > 0);

        // The indexes the gallery and dashboard read: the result, the job's last state, its metric record.
        var gallery = await Pipeline.Infra.Indexes.GalleryIndex.Feed(_store).ReadHeadAsync();
        Assert.Equal(BlobLayout.ResultDocument(env.JobId), Assert.Single(gallery!.Entries).Path);
        var states = await Pipeline.Infra.Indexes.JobStateIndex.Feed(_store).ReadHeadAsync();
        Assert.Equal(JobState.Succeeded, Assert.Single(states!.Entries, s => s.JobId == env.JobId).State);
        var metrics = await Pipeline.Infra.Indexes.MetricIndex.Feed(_store).ReadHeadAsync();
        Assert.Equal(record, Assert.Single(metrics!.Entries) with { Settings = record.Settings });

        // A redelivery of the finished job (say the first delivery stopped before the index) indexes its result again.
        await _store.DeleteAsync(Pipeline.Infra.Indexes.GalleryIndex.HeadPath);
        await Runner(handler).HandleAsync(new ReceivedMessage
        {
            MessageId = env.JobId, Body = env.ToUtf8(), ApplicationProperties = new Dictionary<string, object?>(), LockToken = Guid.NewGuid(), DeliveryCount = 2,
        }, CancellationToken.None);
        Assert.Equal(1, handler.Runs);
        gallery = await Pipeline.Infra.Indexes.GalleryIndex.Feed(_store).ReadHeadAsync();
        Assert.Equal(BlobLayout.ResultDocument(env.JobId), Assert.Single(gallery!.Entries).Path);
        Assert.Equal(0, _queue.ActiveCount);
    }

    [Fact]
    public async Task RunningJobsPublishTheirProgressInTheStatusDocument()
    {
        var env = NewJob();
        await _queue.SendAsync(JobMessages.ToMessage(env));
        double? seen = null;
        var handler = new ScriptedHandler(async (c, ct) =>
        {
            c.ReportProgress(0.5);
            // Published within a few 50 ms intervals; polled (up to 30 s) so a slow or busy machine does not fail it.
            for (var deadline = DateTime.UtcNow.AddSeconds(30); seen != 0.5 && DateTime.UtcNow < deadline; await Task.Delay(20, ct))
                seen = (await _store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(c.JobId), ct))!.Progress;
        });
        var runner = new JobRunner(_store, _models, [handler], new JobRunnerOptions { MaxDeliveryCount = 3, ProgressInterval = TimeSpan.FromMilliseconds(50) }, NullLogger<JobRunner>.Instance);
        var processor = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { MaxMessages = 1, ReceiveWait = TimeSpan.FromSeconds(1) });
        await processor.RunAsync(runner.HandleAsync, CancellationToken.None);

        Assert.Equal(0.5, seen);
        var final = await _store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(env.JobId));
        Assert.Equal(JobState.Succeeded, final!.State);
        Assert.Equal(1, final.Progress);
    }

    [Fact]
    public async Task RepeatedFailureEndsInDeadLetterWithReasonAndFailedStatus()
    {
        var env = NewJob();
        await _queue.SendAsync(JobMessages.ToMessage(env));
        var handler = new ScriptedHandler((_, _) => throw new IOException("storage hiccup"));
        var processor = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { MaxMessages = 3, ReceiveWait = TimeSpan.FromSeconds(1) });
        await processor.RunAsync(Runner(handler).HandleAsync, CancellationToken.None);

        Assert.Equal(3, handler.Runs);
        var dlq = await _queue.ReceiveAsync(1, TimeSpan.FromSeconds(1), SubQueue.DeadLetter);
        Assert.Single(dlq);
        Assert.False(string.IsNullOrEmpty(dlq[0].DeadLetterReason));
        var status = await _store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(env.JobId));
        Assert.Equal(JobState.Failed, status!.State);
        Assert.Contains("storage hiccup", status.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PermanentFailureIsDeadLetteredAtOnce(bool unusableInput)
    {
        var env = NewJob();
        await _queue.SendAsync(JobMessages.ToMessage(env));
        // An operation's rejected input (shared with the CLI, so not a job exception) is as permanent as a handler's own.
        var handler = new ScriptedHandler((_, _) => throw (unusableInput ? new Operations.UnusableInputException("model is incompatible") : new PermanentJobException("model is incompatible")));
        var processor = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { MaxMessages = 1, ReceiveWait = TimeSpan.FromSeconds(1) });
        await processor.RunAsync(Runner(handler).HandleAsync, CancellationToken.None);

        Assert.Equal(1, handler.Runs);
        var dlq = await _queue.ReceiveAsync(1, TimeSpan.FromSeconds(1), SubQueue.DeadLetter);
        Assert.Contains("incompatible", dlq.Single().DeadLetterErrorDescription);
        Assert.Equal(JobState.Failed, (await _store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(env.JobId)))!.State);
    }

    [Fact]
    public async Task WorkerStoppedMidJobIsRedeliveredAndFinishedExactlyOnce()
    {
        var env = NewJob();
        await _queue.SendAsync(JobMessages.ToMessage(env));
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource();
        var crashing = new ScriptedHandler(async (c, ct) =>
        {
            await c.WriteOutputAsync("output-0.png", new byte[] { 9, 9 }, "image/png", "output", ct); // partial
            started.SetResult();
            await Task.Delay(Timeout.Infinite, ct);
        });
        var first = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { ReceiveWait = TimeSpan.FromSeconds(1) });
        MessageOutcome? stopped = null;
        first.Settled += (_, o, _) => stopped = o;
        var run = first.RunAsync(Runner(crashing).HandleAsync, stop.Token);
        await started.Task;
        await stop.CancelAsync();
        Assert.Equal(1, await run);
        Assert.Equal(MessageOutcome.Abandoned, stopped); // graceful shutdown gives the job in hand back at once
        Assert.Null(await _store.GetPropertiesAsync(BlobLayout.ResultDocument(env.JobId)));

        var healthy = new ScriptedHandler(WriteTwoOutputs);
        var second = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { MaxMessages = 1, ReceiveWait = TimeSpan.FromSeconds(20) });
        await second.RunAsync(Runner(healthy).HandleAsync, CancellationToken.None);

        Assert.Equal(1, healthy.Runs);
        var files = await ListAsync(BlobLayout.ResultsPrefix(env.JobId));
        Assert.Equal(["output-0.png", "output-1.png", "result.json"], files.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        var out0 = await _store.GetBytesAsync(BlobLayout.Result(env.JobId, "output-0.png"));
        Assert.Equal(new byte[] { 1, 2, 3 }, out0!.Value.Bytes); // the partial file was replaced, not duplicated

        // A duplicate delivery of an already finished job completes without running the handler again.
        await _queue.SendAsync(JobMessages.ToMessage(env) with { MessageId = env.JobId + "-replay" });
        var third = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { MaxMessages = 1, ReceiveWait = TimeSpan.FromSeconds(1) });
        await third.RunAsync(Runner(healthy).HandleAsync, CancellationToken.None);
        Assert.Equal(1, healthy.Runs);
    }

    [Fact]
    public async Task StoppingADeliveryDoesNotUndoAnotherDeliverysSuccess()
    {
        var env = NewJob();
        await _queue.SendAsync(JobMessages.ToMessage(env));
        using var stop = new CancellationTokenSource();
        var started = new TaskCompletionSource();
        var slow = new ScriptedHandler(async (c, ct) => { started.SetResult(); await Task.Delay(Timeout.Infinite, ct); });
        var run = new JobQueueProcessor(_queue, new JobQueueProcessorOptions { ReceiveWait = TimeSpan.FromSeconds(1) }).RunAsync(Runner(slow).HandleAsync, stop.Token);
        await started.Task;
        // Meanwhile a duplicate delivery on another worker finishes the job (result and status).
        await _store.PutJsonAsync(BlobLayout.ResultDocument(env.JobId), new JobResult { JobId = env.JobId, Kind = env.Kind, Job = env.Job, Outputs = [], StartedAt = DateTimeOffset.UtcNow, FinishedAt = DateTimeOffset.UtcNow });
        await _store.PutJsonAsync(BlobLayout.StatusDocument(env.JobId), new JobStatus { JobId = env.JobId, Kind = env.Kind, State = JobState.Succeeded, UpdatedAt = DateTimeOffset.UtcNow });
        await stop.CancelAsync();
        await run;
        Assert.Equal(JobState.Succeeded, (await _store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(env.JobId)))!.State);
    }
}
