using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Functions.Services;
using Pipeline.Functions.Tests.Functions;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Indexes;
using Pipeline.Infra.Storage;
using Pipeline.Metrics;

namespace Pipeline.Functions.Tests.Gallery;

/// <summary>
/// The gallery and the dashboard with 10,000 batches, 10,000 finished jobs and 10,000 metric records in storage: one
/// request reads the indexes the worker maintains (a bounded, asserted number of blobs, no listing), and a repeated
/// request with nothing changed reads no blob content at all (conditional GETs answered "not modified").
/// </summary>
public sealed class GalleryScaleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private const int N = 10_000;
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static string Batch(int i) => "batch-" + i.ToString("D5", CultureInfo.InvariantCulture);

    // What N finished augmentation jobs leave behind: a manifest per batch, a status document and a job metric record per job.
    private static async Task SeedHistoryAsync(InMemoryBlobStore store)
    {
        for (int i = 0; i < N; i++)
        {
            var at = T0.AddMinutes(i);
            store.Now = at;
            var job = new AugmentationBatchJob { Model = new BlobRef("models/stylegan2-ffhq-256.pt"), BatchId = Batch(i), Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Truncation, Truncation = 0.7, Count = 2, Seed = i };
            var items = Enumerable.Range(0, 2).Select(k => new DatasetItem(BlobLayout.DatasetItem(job.BatchId, $"{k:D5}.png"), i + k, null, null, BlobLayout.DatasetItem(job.BatchId, $"thumbs/{k:D5}.png"))).ToList();
            await store.PutJsonAsync(BlobLayout.DatasetManifest(job.BatchId), new DatasetManifest { BatchId = job.BatchId, JobId = "job-" + i, Job = job, Items = items, CreatedAt = at }, cancellationToken: Ct);
            await store.PutJsonAsync(BlobLayout.StatusDocument("job-" + i), new JobStatus { JobId = "job-" + i, Kind = JobKind.Augmentation, State = i % 10 == 0 ? JobState.Failed : JobState.Succeeded, UpdatedAt = at }, cancellationToken: Ct);
            var record = new MetricRecord { Metric = "job_augmentation", Value = 10 + i % 7, Status = "ok", ModelId = job.Model.Path, Timestamp = at, RunId = "run" + i };
            await store.PutBytesAsync(BlobLayout.MetricEvaluation(record.Metric, at, record.RunId), JobJson.ToUtf8(record).Append((byte)'\n').ToArray(), cancellationToken: Ct);
        }
    }

    private static async Task<JsonObject> GetAsync(FunctionsHost host, string function, string path, object? query = null, object? routeParams = null)
    {
        var (status, body, _) = await host.InvokeHttpAsync(function, "GET", path, query: query, routeParams: routeParams);
        Assert.True(status == 200, $"{path}: {status} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static Task<JsonObject> GalleryAsync(FunctionsHost host) => GetAsync(host, "Gallery", "gallery/", routeParams: new { path = "" });
    private static Task<JsonObject> DashboardAsync(FunctionsHost host) => GetAsync(host, "Metrics", "metrics", query: new { gallery = "24" });

    [Fact]
    public async Task TenThousandItemsCostOneIndexReadPerRequestAndNoneWhenUnchanged()
    {
        var memory = new InMemoryBlobStore();
        await SeedHistoryAsync(memory);
        var store = new CountingBlobStore(memory);
        await using var host = new FunctionsHost(services: s =>
        {
            s.AddSingleton<IBlobStore>(store);
            s.AddSingleton<ILinkSigner, GalleryApiTests.EchoSigner>();
        });

        // Storage written before the indexes existed: the pages still work, from the old full scan (what this replaces).
        store.Reset();
        var legacy = await GalleryAsync(host);
        Assert.Equal(GalleryApi.MaxCollections, legacy["collections"]!.AsArray().Count);
        Assert.Equal((2, N, GalleryApi.MaxCollections), (store.Lists, store.Listed, store.Reads)); // datasets/ and results/ listed, 200 manifests read

        // The worker's first index writes seed each index once from a scan; later ones read and rewrite only the head.
        memory.Now = T0.AddMinutes(N);
        var newest = Batch(N);
        var job = new AugmentationBatchJob { Model = new BlobRef("models/stylegan2-ffhq-256.pt"), BatchId = newest, Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Truncation, Truncation = 0.7, Count = 1 };
        await memory.PutJsonAsync(BlobLayout.DatasetManifest(newest), new DatasetManifest { BatchId = newest, JobId = "job-new", Job = job, Items = [new DatasetItem(BlobLayout.DatasetItem(newest, "00000.png"), 0)], CreatedAt = T0.AddMinutes(N) }, cancellationToken: Ct);
        await GalleryIndex.RecordAsync(memory, [BlobLayout.DatasetManifest(newest)], Ct);
        await JobStateIndex.RecordAsync(memory, [new JobStatus { JobId = "job-new", Kind = JobKind.Augmentation, State = JobState.Running, UpdatedAt = T0.AddMinutes(N) }], Ct);
        await MetricIndex.RecordAsync(memory, new MetricRecord { Metric = "fid50k_full", Value = 12.5, Status = "ok", ModelId = job.Model.Path, Timestamp = T0.AddMinutes(N), RunId = "fid1" }, Ct);

        // One gallery request: the gallery index's head, nothing listed, no manifest read.
        store.Reset();
        var gallery = await GalleryAsync(host);
        Assert.Equal(0, store.Lists);
        Assert.Equal([GalleryIndex.HeadPath], store.ReadPaths);
        Assert.Equal(0, store.PropertyReads);
        var collections = gallery["collections"]!.AsArray();
        Assert.Equal(GalleryApi.MaxCollections, collections.Count);
        Assert.Equal(newest, (string?)collections[0]!["batchId"]);
        Assert.Equal(Batch(N - 1), (string?)collections[1]!["batchId"]);
        Assert.Equal($"https://signed.example/datasets/{Batch(N - 1)}/thumbs/00000.png", (string?)collections[1]!["cover"]!["url"]);

        // One dashboard request: the metric and job-state heads (the gallery head is cached: "not modified").
        store.Reset();
        var dashboard = await DashboardAsync(host);
        Assert.Equal(0, store.Lists);
        Assert.Equal([MetricIndex.HeadPath, JobStateIndex.HeadPath], store.ReadPaths.Order(StringComparer.Ordinal));
        Assert.Equal(1, store.NotModified);
        Assert.Equal(24, dashboard["gallery"]!.AsArray().Count);
        Assert.Equal(JobStateIndex.Capacity, dashboard["jobs"]!["counts"]!.AsObject().Sum(kv => (int)kv.Value!));
        Assert.Equal(1, (int)dashboard["jobs"]!["counts"]!["running"]!);
        Assert.Equal(12.5, (double)dashboard["metrics"]!.AsArray().Single()!["points"]!.AsArray().Single()!["value"]!);
        Assert.Equal(500, dashboard["jobs"]!["durations"]!.AsArray().Count);

        // The same requests again with nothing changed: no blob content read at all.
        store.Reset();
        await GalleryAsync(host);
        await DashboardAsync(host);
        Assert.Equal(0, store.Lists);
        Assert.Equal(0, store.Reads);
        Assert.Equal(4, store.NotModified); // gallery head (twice: both pages show works), metric head, job-state head

        // A worker adds a batch: it reads and rewrites the head (no listing); the next gallery request reads only the head again.
        store.Reset();
        var another = Batch(N + 1);
        memory.Now = T0.AddMinutes(N + 1);
        await store.PutJsonAsync(BlobLayout.DatasetManifest(another), new DatasetManifest { BatchId = another, JobId = "job-another", Job = job with { BatchId = another }, Items = [new DatasetItem(BlobLayout.DatasetItem(another, "00000.png"), 0)], CreatedAt = T0.AddMinutes(N + 1) }, cancellationToken: Ct);
        await GalleryIndex.RecordAsync(store, [BlobLayout.DatasetManifest(another)], Ct);
        Assert.Equal(0, store.Lists);
        Assert.Equal([BlobLayout.DatasetManifest(another), GalleryIndex.HeadPath], store.ReadPaths);
        store.Reset();
        gallery = await GalleryAsync(host);
        Assert.Equal([GalleryIndex.HeadPath], store.ReadPaths);
        Assert.Equal(another, (string?)gallery["collections"]!.AsArray()[0]!["batchId"]);

        // Nothing was lost: the head plus its archive pages hold every batch exactly once, and the head stays bounded.
        var head = (await GalleryIndex.Feed(memory).ReadHeadAsync(Ct))!;
        Assert.InRange(head.Entries.Count, GalleryIndex.Capacity, GalleryIndex.Capacity + 100); // only batches here: one kind
        var seen = new HashSet<string>(head.Entries.Select(e => e.Path));
        for (var page = head.Older; page is not null;)
        {
            var p = (await memory.GetJsonAsync<FeedPage<GalleryEntry>>(page, Ct))!;
            foreach (var e in p.Entries) Assert.True(seen.Add(e.Path), $"{e.Path} twice");
            page = p.Older;
        }
        Assert.Equal(N + 2, seen.Count);
    }

    [Fact]
    public async Task ConcurrentWritersLoseNoEntries()
    {
        var memory = new InMemoryBlobStore();
        var feed = new BlobFeed<JobStatus>(memory, "status/.index/test.json", s => s.JobId, s => s.UpdatedAt, capacity: 30, pageSize: 10);
        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() =>
            feed.AddAsync([new JobStatus { JobId = "job-" + i, Kind = JobKind.Translation, State = JobState.Queued, UpdatedAt = T0.AddSeconds(i) }], cancellationToken: Ct))));
        var head = (await feed.ReadHeadAsync(Ct))!;
        Assert.InRange(head.Entries.Count, 30, 40);
        // Newest first (an entry that arrives after newer ones were archived still lands in the head, in time order).
        Assert.Equal(head.Entries.OrderByDescending(e => e.UpdatedAt).Select(e => e.JobId), head.Entries.Select(e => e.JobId));
        Assert.Equal("job-63", head.Entries[0].JobId);
        var all = head.Entries.Select(e => e.JobId).ToList();
        for (var page = head.Older; page is not null;)
        {
            var p = (await memory.GetJsonAsync<FeedPage<JobStatus>>(page, Ct))!;
            all.AddRange(p.Entries.Select(e => e.JobId));
            page = p.Older;
        }
        Assert.Equal(64, all.Distinct().Count());
        Assert.Equal(64, all.Count);

        // A late writer's older state does not replace a newer one.
        await feed.AddAsync([new JobStatus { JobId = "job-63", Kind = JobKind.Translation, State = JobState.Succeeded, UpdatedAt = T0.AddSeconds(100) }], cancellationToken: Ct);
        await feed.AddAsync([new JobStatus { JobId = "job-63", Kind = JobKind.Translation, State = JobState.Running, UpdatedAt = T0.AddSeconds(99) }], cancellationToken: Ct);
        Assert.Equal(JobState.Succeeded, (await feed.ReadHeadAsync(Ct))!.Entries[0].State);
    }

    [Fact]
    public async Task AFloodOfOneKindKeepsTheNewestOfTheOthersInTheHead()
    {
        var memory = new InMemoryBlobStore();
        var feed = new BlobFeed<JobStatus>(memory, "status/.index/kinds.json", s => s.JobId, s => s.UpdatedAt, capacity: 10, pageSize: 5, group: s => s.Kind.ToString());
        for (int i = 0; i < 30; i++)
            await feed.AddAsync([new JobStatus { JobId = "p" + i, Kind = JobKind.Projection, State = JobState.Succeeded, UpdatedAt = T0.AddSeconds(i) }], cancellationToken: Ct);
        for (int i = 0; i < 100; i++)
            await feed.AddAsync([new JobStatus { JobId = "t" + i, Kind = JobKind.Translation, State = JobState.Succeeded, UpdatedAt = T0.AddSeconds(100 + i) }], cancellationToken: Ct);
        var head = (await feed.ReadHeadAsync(Ct))!;
        Assert.Equal(Enumerable.Range(20, 10).Select(i => "p" + i).Order(), head.Entries.Where(e => e.Kind == JobKind.Projection).Select(e => e.JobId).Order());
        Assert.InRange(head.Entries.Count(e => e.Kind == JobKind.Translation), 10, 15);
    }
}
