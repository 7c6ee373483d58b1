using Pipeline.Infra.Contracts;
using Pipeline.Infra.Indexes;
using Pipeline.Infra.Storage;
using Pipeline.Metrics;
using Pipeline.Worker.Cli.Storage;

namespace Pipeline.Worker.Tests.Storage;

/// <summary>
/// `pipeline index rebuild` on storage written before the indexes existed: afterwards the three index heads the
/// gallery and dashboard read hold every document a full scan finds, so no page request has to scan.
/// </summary>
public sealed class IndexCommandTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("index-rebuild-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task RebuildIndexesEveryUnindexedDocument()
    {
        var ct = TestContext.Current.CancellationToken;
        var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        var t0 = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        for (int i = 0; i < 3; i++)
        {
            var job = new AugmentationBatchJob { Model = new BlobRef("models/g.pt"), BatchId = $"b{i}", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Sample, Count = 1, Seed = i };
            var item = new DatasetItem(BlobLayout.DatasetItem(job.BatchId, "00000.png"), i);
            await store.PutJsonAsync(BlobLayout.DatasetManifest(job.BatchId), new DatasetManifest { BatchId = job.BatchId, JobId = $"job-{i}", Job = job, Items = [item], CreatedAt = t0.AddMinutes(i) }, cancellationToken: ct);
            await store.PutJsonAsync(BlobLayout.StatusDocument($"job-{i}"), new JobStatus { JobId = $"job-{i}", Kind = JobKind.Augmentation, State = JobState.Succeeded, UpdatedAt = t0.AddMinutes(i) }, cancellationToken: ct);
        }
        var record = new MetricRecord { Metric = "fid50k_full", Value = 12.5, Status = "ok", ModelId = "models/g.pt", Timestamp = t0, RunId = "r1" };
        await store.PutBytesAsync(BlobLayout.MetricEvaluation(record.Metric, t0, record.RunId), JobJson.ToUtf8(record).Append((byte)'\n').ToArray(), cancellationToken: ct);
        Assert.Null(await store.GetBytesAsync(GalleryIndex.HeadPath, ct)); // written before the indexes existed

        var counts = await IndexCommand.RebuildAsync(store, ct);

        Assert.Equal((3, 1, 3), counts);
        var gallery = await GalleryIndex.Feed(store).ReadHeadAsync(ct);
        Assert.Equal(["b0", "b1", "b2"], gallery!.Entries.Select(e => e.Batch!.BatchId).Order());
        var metrics = await MetricIndex.Feed(store).ReadHeadAsync(ct);
        Assert.Equal(12.5, Assert.Single(metrics!.Entries).Value);
        var jobs = await JobStateIndex.Feed(store).ReadHeadAsync(ct);
        Assert.Equal(["job-0", "job-1", "job-2"], jobs!.Entries.Select(s => s.JobId).Order());

        // Idempotent: a second rebuild gives the same heads.
        Assert.Equal(counts, await IndexCommand.RebuildAsync(store, ct));
        Assert.Equal(3, (await GalleryIndex.Feed(store).ReadHeadAsync(ct))!.Entries.Count);
    }
}
