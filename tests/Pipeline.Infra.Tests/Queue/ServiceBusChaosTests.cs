using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Testing.ServiceBus;
using Pipeline.Tests;
using SubQueue = Pipeline.Infra.Queue.SubQueue;

namespace Pipeline.Infra.Tests.Queue;

/// <summary>
/// About 500 small jobs through the Service Bus SDK and the test broker, consumed by two worker processes
/// (tests/Pipeline.Testing.ChaosWorker) that are killed with SIGKILL in the middle of jobs and restarted, while the
/// broker drops every connection a few times. Every good job must end with exactly one result.json and exactly its
/// outputs; poison lands in the dead-letter queue with its reason; nothing is lost. Loopback only, bounded in time,
/// every process stops by itself.
/// </summary>
public sealed class ServiceBusChaosTests(ITestOutputHelper output)
{
    private const string QueueName = "chaos";
    private const int GoodJobs = 480;
    private const int FailingJobs = 10;
    private const int GarbageMessages = 10;
    private const int MinKills = 5;
    private const int Drops = 3;
    private static readonly string SummaryFile = Path.Combine(AppContext.BaseDirectory, "chaos-summary.txt");

    [Fact]
    public async Task Jobs_survive_killed_workers_and_dropped_connections_exactly_once()
    {
        var sw = Stopwatch.StartNew();
        File.Delete(SummaryFile);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(150));
        var ct = timeout.Token;
        var root = Directory.CreateTempSubdirectory("chaos-").FullName;
        var workers = new List<WorkerProcess>();
        await using var broker = ServiceBusTestBroker.Start(new BrokerQueueOptions
        {
            LockDuration = TimeSpan.FromSeconds(3), // a killed worker's jobs come back after 3 s
            MaxDeliveryCount = QueueDefaults.MaxDeliveryCount,
        });
        try
        {
            // ---- send: batches, plus a replay of some job ids that duplicate detection must drop ----
            await using var sender = new ServiceBusJobQueue(ServiceBusQueueTests.ClientOptions(broker, QueueName) with { SharedConnection = false });
            var good = Enumerable.Range(0, GoodJobs).Select(i => Job($"uploads/chaos-{i}.png")).ToList();
            var failing = Enumerable.Range(0, FailingJobs).Select(i => Job($"uploads/always-fails-{i}.png")).ToList();
            var messages = good.Concat(failing).Select(JobPublisher.Message)
                .Concat(Enumerable.Range(0, GarbageMessages).Select(i => new QueueMessage { MessageId = "garbage-" + i, Body = "not a job"u8.ToArray() }))
                .OrderBy(m => m.MessageId, StringComparer.Ordinal) // poison spread among the good jobs
                .ToList();
            foreach (var chunk in messages.Chunk(100)) await sender.SendBatchAsync(chunk, ct);
            await sender.SendBatchAsync(good.Take(25).Select(JobPublisher.Message).ToList(), ct);
            var sent = messages.Count;

            // ---- two workers; kill one in the middle of a job now and then, drop connections now and then ----
            var exe = WorkerExecutable();
            WorkerProcess Spawn() => WorkerProcess.Start(exe, broker.ConnectionString, QueueName, root);
            workers.Add(Spawn());
            workers.Add(Spawn());
            var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = root });
            var kills = 0;
            var drops = 0;
            var lastKill = Stopwatch.StartNew();
            var lastDrop = Stopwatch.StartNew();
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                if (kills < MinKills + 1 && lastKill.Elapsed > TimeSpan.FromSeconds(1.5))
                {
                    string? jobInHand = null;
                    var victim = workers.FirstOrDefault(w => !w.Exited && w.TryTakeMidJob(out jobInHand));
                    if (victim is not null)
                    {
                        victim.Kill(); // SIGKILL: no graceful shutdown, no abandon
                        lastKill.Restart();
                        workers.Add(Spawn());
                        // Mid-job when the job it was working on has its first output and no result.json.
                        if (await store.GetPropertiesAsync(BlobLayout.Result(jobInHand!, "output-0.bin"), ct) is not null
                            && await store.GetPropertiesAsync(BlobLayout.ResultDocument(jobInHand!), ct) is null)
                            kills++;
                    }
                }
                if (drops < Drops && lastDrop.Elapsed > TimeSpan.FromSeconds(2.5) && kills >= 1)
                {
                    broker.DropConnections();
                    drops++;
                    lastDrop.Restart();
                }
                if (kills >= MinKills && drops >= Drops && broker.ActiveCount(QueueName) == 0 && broker.DeadLetterCount(QueueName) == FailingJobs + GarbageMessages)
                    break;
                await Task.Delay(100, ct);
            }
            foreach (var w in workers) w.Kill();

            // ---- verify: every good job done exactly once, poison in the DLQ with its reason, nothing lost ----
            var lost = new List<string>();
            var duplicates = new List<string>();
            foreach (var job in good)
            {
                var files = new List<string>();
                await foreach (var b in store.ListAsync(BlobLayout.ResultsPrefix(job.JobId), ct)) files.Add(Path.GetFileName(b.Path));
                if (!files.Contains("result.json"))
                {
                    lost.Add(job.JobId);
                    continue;
                }
                if (!files.Order(StringComparer.Ordinal).SequenceEqual(["output-0.bin", "output-1.bin", "result.json"]))
                    duplicates.Add($"{job.JobId}: {string.Join(",", files)}");
                using var result = JsonDocument.Parse((await store.GetBytesAsync(BlobLayout.ResultDocument(job.JobId), ct))!.Value.Bytes);
                foreach (var o in result.RootElement.GetProperty("outputs").EnumerateArray())
                {
                    var bytes = (await store.GetBytesAsync(o.GetProperty("path").GetString()!, ct))!.Value.Bytes;
                    Assert.Equal(o.GetProperty("sha256").GetString(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
                }
            }
            var resultFolders = Directory.Exists(Path.Combine(root, "results")) ? Directory.GetDirectories(Path.Combine(root, "results")).Length : 0;
            var dead = new List<ReceivedMessage>();
            while (dead.Count < FailingJobs + GarbageMessages)
            {
                var got = await sender.ReceiveAsync(20, TimeSpan.FromSeconds(5), SubQueue.DeadLetter, ct);
                Assert.NotEmpty(got);
                dead.AddRange(got);
            }
            var counters = broker.Counters(QueueName);
            var raced = workers.Sum(w => w.Count("raced"));
            var summary = $"chaos: sent {sent} (+25 duplicate sends dropped: {counters.DuplicatesDropped}), completed {counters.Completed}, " +
                          $"redelivered {counters.Redeliveries}, dead-lettered {dead.Count} " +
                          $"({dead.Count(d => d.DeadLetterReason == "InvalidJob")} InvalidJob, {dead.Count(d => d.DeadLetterReason == "MaxDeliveryCountExceeded")} MaxDeliveryCountExceeded), " +
                          $"duplicates {duplicates.Count}, lost {lost.Count}; {kills} workers killed mid-job ({workers.Count - 2} kills in all), {drops} connection drops, " +
                          $"{broker.ConnectionsAccepted} connections, {counters.LocksExpired} locks expired, {raced} results recomputed after a lost lock, {sw.Elapsed.TotalSeconds:F1} s";
            output.WriteLine(summary);
            // `dotnet test` hides a passing test's output: build/test.sh prints this file after the run.
            await File.WriteAllTextAsync(SummaryFile, summary + "\n", ct);

            Assert.True(lost.Count == 0, $"lost: {string.Join(", ", lost.Take(10))}\n{summary}\n{workers[0].Tail()}");
            Assert.True(duplicates.Count == 0, $"duplicated or partial outputs: {string.Join("; ", duplicates.Take(10))}");
            Assert.Equal(GoodJobs, resultFolders); // nothing for poison or failing jobs
            Assert.Equal(25, counters.DuplicatesDropped);
            Assert.True(kills >= MinKills && drops >= Drops, summary);
            Assert.Equal(GarbageMessages, dead.Count(d => d.DeadLetterReason == "InvalidJob" && d.MessageId.StartsWith("garbage-", StringComparison.Ordinal)));
            Assert.Equal(failing.Select(f => f.JobId).Order(), dead.Where(d => d.DeadLetterReason == "MaxDeliveryCountExceeded").Select(d => d.MessageId).Order());
            Assert.DoesNotContain(dead, d => good.Any(g => g.JobId == d.MessageId));
            Assert.True(counters.Redeliveries > 0, "killed workers' jobs must have been redelivered");
            Assert.Equal(0, broker.ActiveCount(QueueName));
        }
        finally
        {
            foreach (var w in workers) w.Kill();
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    private static JobEnvelope Job(string input) =>
        JobEnvelope.Create(new ProjectionJob { Model = new BlobRef("models/g.pt"), Input = new BlobRef(input, "\"e\"") }, "chaos");

    private static string WorkerExecutable()
    {
        // Built with the solution (and by this project's reference); same configuration as this test assembly.
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var exe = Path.Combine(TestPaths.RepoRoot, "tests", "Pipeline.Testing.ChaosWorker", "bin", configuration, "net10.0", "Pipeline.Testing.ChaosWorker");
        Assert.True(File.Exists(exe), $"chaos worker not built at {exe}");
        return exe;
    }

    /// <summary>One worker process and what it printed.</summary>
    private sealed class WorkerProcess
    {
        private readonly Process _process;
        private readonly ConcurrentQueue<string> _mid = new();
        private readonly ConcurrentDictionary<string, int> _counts = new(StringComparer.Ordinal);
        private readonly ConcurrentQueue<string> _tail = new();

        private WorkerProcess(Process p) => _process = p;

        public bool Exited => _process.HasExited;

        public static WorkerProcess Start(string exe, string connectionString, string queue, string root)
        {
            var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.Environment["CHAOS_CONNECTION_STRING"] = connectionString;
            psi.Environment["CHAOS_QUEUE"] = queue;
            psi.Environment["CHAOS_ROOT"] = root;
            psi.Environment["CHAOS_CONCURRENCY"] = "3";
            psi.Environment["CHAOS_WORK_MS"] = "150";
            psi.Environment["CHAOS_EXIT_AFTER_SECONDS"] = "170";
            psi.Environment["CHAOS_PARENT_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var w = new WorkerProcess(new Process { StartInfo = psi });
            w._process.OutputDataReceived += (_, e) => w.OnLine(e.Data);
            w._process.ErrorDataReceived += (_, e) => w.OnLine(e.Data);
            w._process.Start();
            w._process.BeginOutputReadLine();
            w._process.BeginErrorReadLine();
            return w;
        }

        private void OnLine(string? line)
        {
            if (line is null) return;
            _tail.Enqueue(line);
            while (_tail.Count > 40) _tail.TryDequeue(out _);
            var word = line.Split(' ', 2)[0];
            _counts.AddOrUpdate(word, 1, (_, n) => n + 1);
            if (word == "mid") _mid.Enqueue(line);
        }

        /// <summary>The last job the worker reported being in the middle of (between its two outputs) since the last call.</summary>
        public bool TryTakeMidJob(out string? jobId)
        {
            string? line = null;
            while (_mid.TryDequeue(out var l)) line = l;
            jobId = line?.Split(' ')[1];
            return jobId is not null;
        }

        public int Count(string word) => _counts.GetValueOrDefault(word);

        public string Tail() => string.Join('\n', _tail);

        public void Kill()
        {
            try
            {
                if (!_process.HasExited) _process.Kill(); // SIGKILL on Linux: no graceful shutdown, no abandon
                _process.WaitForExit(5000);
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
