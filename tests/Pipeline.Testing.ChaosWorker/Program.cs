using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

// A worker process for the chaos test. Environment:
//   CHAOS_CONNECTION_STRING, CHAOS_QUEUE, CHAOS_ROOT (file-system blob store root), CHAOS_CONCURRENCY,
//   CHAOS_WORK_MS (time between the two outputs of a job), CHAOS_EXIT_AFTER_SECONDS (stops by itself),
//   CHAOS_PARENT_PID (exits when the test process is gone).
// Stdout lines (read by the test): "ready", "start <job> <attempt>", "mid <job>", "done <job>", "already <job>",
// "raced <job>", "settled <messageId> <outcome>".
var env = Environment.GetEnvironmentVariables();
string Need(string name) => env[name] as string ?? throw new InvalidOperationException(name + " is not set");
var workMs = int.Parse(Need("CHAOS_WORK_MS"), System.Globalization.CultureInfo.InvariantCulture);
var parentPid = int.Parse(Need("CHAOS_PARENT_PID"), System.Globalization.CultureInfo.InvariantCulture);

using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(int.Parse(Need("CHAOS_EXIT_AFTER_SECONDS"), System.Globalization.CultureInfo.InvariantCulture)));
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
{
    ctx.Cancel = true;
    stop.Cancel();
});
_ = Task.Run(async () =>
{
    // Never outlive the test: exit when the parent process is gone.
    while (!stop.IsCancellationRequested)
    {
        try { using var p = Process.GetProcessById(parentPid); if (p.HasExited) break; }
        catch (ArgumentException) { break; }
        await Task.Delay(500);
    }
    Environment.Exit(3);
});

var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Need("CHAOS_ROOT") });
await using var queue = new ServiceBusJobQueue(new ServiceBusOptions
{
    ConnectionString = Need("CHAOS_CONNECTION_STRING"),
    QueueName = Need("CHAOS_QUEUE"),
    MaxRetries = 10,
    RetryDelay = TimeSpan.FromMilliseconds(100),
    MaxRetryDelay = TimeSpan.FromSeconds(1),
    TryTimeout = TimeSpan.FromSeconds(10),
});
var processor = queue.CreateProcessor(new JobQueueProcessorOptions
{
    MaxConcurrentCalls = int.Parse(Need("CHAOS_CONCURRENCY"), System.Globalization.CultureInfo.InvariantCulture),
    MaxAutoLockRenewalDuration = TimeSpan.FromMinutes(5),
});
processor.Settled += (m, outcome, _) => Console.WriteLine($"settled {m.MessageId} {outcome}");
Console.WriteLine("ready");
await processor.RunAsync(HandleAsync, stop.Token);
return 0;

// The worker's commit protocol (JobRunner): an existing result.json means done; outputs first, result.json last
// with If-None-Match, so a process killed in between leaves outputs that the next attempt overwrites, never a result.
async Task HandleAsync(ReceivedMessage message, CancellationToken ct)
{
    var job = message.ReadEnvelope(); // garbage -> InvalidJobException -> dead-lettered with reason InvalidJob
    var resultPath = BlobLayout.ResultDocument(job.JobId);
    if (await store.GetPropertiesAsync(resultPath, ct) is not null)
    {
        Console.WriteLine($"already {job.JobId}");
        return;
    }
    if (job.Job is ProjectionJob { Input.Path: var input } && input.Contains("always-fails", StringComparison.Ordinal))
        throw new InvalidOperationException("scripted failure: the GPU fell over"); // abandoned until MaxDeliveryCount
    Console.WriteLine($"start {job.JobId} {message.DeliveryCount}");
    var outputs = new List<object>();
    for (var i = 0; i < 2; i++)
    {
        var bytes = Output(job.JobId, i);
        var path = BlobLayout.Result(job.JobId, $"output-{i}.bin");
        await store.PutBytesAsync(path, bytes, cancellationToken: ct);
        outputs.Add(new { path, sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes)) });
        if (i == 0)
        {
            Console.WriteLine($"mid {job.JobId}");
            await Task.Delay(workMs, ct);
        }
    }
    var result = JsonSerializer.SerializeToUtf8Bytes(new { jobId = job.JobId, outputs, attempt = message.DeliveryCount, worker = Environment.ProcessId });
    if (!await store.TryCreateAsync(resultPath, result, "application/json", cancellationToken: ct))
        Console.WriteLine($"raced {job.JobId}");
    Console.WriteLine($"done {job.JobId}");
}

static byte[] Output(string jobId, int index) => Encoding.UTF8.GetBytes($"{jobId}/{index}/" + new string('x', 64));
