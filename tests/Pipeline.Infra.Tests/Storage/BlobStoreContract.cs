using System.Security.Cryptography;
using System.Text;
using Pipeline.Infra.Storage;

namespace Pipeline.Infra.Tests.Storage;

/// <summary>The one blob contract: every IBlobStore implementation runs these tests.</summary>
public abstract class BlobStoreContract
{
    /// <summary>A fresh, empty store.</summary>
    protected abstract Task<IBlobStore> CreateStoreAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static BlobPutOptions Opts(string type = "text/plain", Dictionary<string, string>? meta = null, BlobConditions? c = null) =>
        new() { ContentType = type, Metadata = meta, Conditions = c };

    [Fact]
    public async Task Put_then_get_returns_content_type_metadata_and_etag()
    {
        var store = await CreateStoreAsync();
        var written = await store.PutBytesAsync("uploads/a/me.txt", "hello"u8.ToArray(), Opts("text/plain", new() { ["jobkind"] = "projection" }), Ct);
        Assert.Equal(5, written.Length);
        Assert.False(string.IsNullOrEmpty(written.ETag));

        var got = await store.GetBytesAsync("uploads/a/me.txt", Ct);
        Assert.NotNull(got);
        Assert.Equal("hello", Encoding.UTF8.GetString(got.Value.Bytes));
        Assert.Equal("text/plain", got.Value.Properties.ContentType);
        Assert.Equal("projection", got.Value.Properties.Metadata["jobkind"]);
        Assert.Equal(written.ETag, got.Value.Properties.ETag);

        var props = await store.GetPropertiesAsync("uploads/a/me.txt", Ct);
        Assert.Equal(written.ETag, props!.ETag);
        Assert.Equal(5, props.Length);
        Assert.True(Math.Abs((props.LastModified - DateTimeOffset.UtcNow).TotalMinutes) < 5);
    }

    [Fact]
    public async Task Missing_blob_reads_as_null()
    {
        var store = await CreateStoreAsync();
        Assert.Null(await store.GetAsync("results/nope/x.bin", null, Ct));
        Assert.Null(await store.GetPropertiesAsync("results/nope/x.bin", Ct));
        Assert.False(await store.DeleteAsync("results/nope/x.bin", null, Ct));
    }

    [Fact]
    public async Task Overwrite_changes_etag_and_if_match_guards_versions()
    {
        var store = await CreateStoreAsync();
        var v1 = await store.PutBytesAsync("status/j1.json", "1"u8.ToArray(), Opts(), Ct);
        var v2 = await store.PutBytesAsync("status/j1.json", "2"u8.ToArray(), Opts(c: BlobConditions.IfVersion(v1.ETag)), Ct);
        Assert.NotEqual(v1.ETag, v2.ETag);

        // A writer holding the stale version loses.
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => store.PutBytesAsync("status/j1.json", "3"u8.ToArray(), Opts(c: BlobConditions.IfVersion(v1.ETag)), Ct));
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => store.GetAsync("status/j1.json", BlobConditions.IfVersion(v1.ETag), Ct));
        Assert.Equal("2", Encoding.UTF8.GetString((await store.GetBytesAsync("status/j1.json", Ct))!.Value.Bytes));

        // If-Match on a missing blob fails rather than creating it.
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => store.PutBytesAsync("status/j2.json", "x"u8.ToArray(), Opts(c: BlobConditions.IfVersion(v1.ETag)), Ct));
        Assert.Null(await store.GetPropertiesAsync("status/j2.json", Ct));
    }

    [Fact]
    public async Task Cached_reader_gets_unchanged_documents_as_not_modified()
    {
        var store = await CreateStoreAsync();
        var reader = new CachedBlobReader(store);
        Assert.Null(await reader.GetJsonAsync<Pipeline.Infra.Contracts.JobStatus>("status/.index/doc.json", Ct));
        var v1 = new Pipeline.Infra.Contracts.JobStatus { JobId = "j1", Kind = Pipeline.Infra.Contracts.JobKind.Translation, State = Pipeline.Infra.Contracts.JobState.Queued, UpdatedAt = DateTimeOffset.UnixEpoch };
        var written = await store.PutJsonAsync("status/.index/doc.json", v1, null, Ct);
        var first = await reader.GetJsonAsync<Pipeline.Infra.Contracts.JobStatus>("status/.index/doc.json", Ct);
        Assert.Equal(v1, first);
        // If-None-Match with the current ETag: the store answers "not modified", the reader serves the instance it holds.
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => store.GetAsync("status/.index/doc.json", new BlobConditions { IfNoneMatch = written.ETag }, Ct));
        Assert.Same(first, await reader.GetJsonAsync<Pipeline.Infra.Contracts.JobStatus>("status/.index/doc.json", Ct));
        await store.PutJsonAsync("status/.index/doc.json", v1 with { State = Pipeline.Infra.Contracts.JobState.Running }, null, Ct);
        Assert.Equal(Pipeline.Infra.Contracts.JobState.Running, (await reader.GetJsonAsync<Pipeline.Infra.Contracts.JobStatus>("status/.index/doc.json", Ct))!.State);
    }

    [Fact]
    public async Task Concurrent_feed_writers_lose_no_entries()
    {
        var store = await CreateStoreAsync();
        var feed = new BlobFeed<Pipeline.Infra.Contracts.JobStatus>(store, "status/.index/feed.json", s => s.JobId, s => s.UpdatedAt, capacity: 8, pageSize: 4);
        await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(() => feed.AddAsync(
            [new Pipeline.Infra.Contracts.JobStatus { JobId = "j" + i, Kind = Pipeline.Infra.Contracts.JobKind.Translation, State = Pipeline.Infra.Contracts.JobState.Queued, UpdatedAt = DateTimeOffset.UnixEpoch.AddSeconds(i) }],
            cancellationToken: Ct))));
        var head = (await feed.ReadHeadAsync(Ct))!;
        var ids = head.Entries.Select(e => e.JobId).ToList();
        for (var page = head.Older; page is not null;)
        {
            var p = (await store.GetJsonAsync<FeedPage<Pipeline.Infra.Contracts.JobStatus>>(page, Ct))!;
            ids.AddRange(p.Entries.Select(e => e.JobId));
            page = p.Older;
        }
        Assert.Equal(Enumerable.Range(0, 12).Select(i => "j" + i).Order(), ids.Order());
    }

    [Fact]
    public async Task Claim_once_creates_only_the_first_time()
    {
        var store = await CreateStoreAsync();
        Assert.True(await store.TryCreateAsync("results/j1/.claim", "worker-a"u8.ToArray(), cancellationToken: Ct));
        Assert.False(await store.TryCreateAsync("results/j1/.claim", "worker-b"u8.ToArray(), cancellationToken: Ct));
        Assert.Equal("worker-a", Encoding.UTF8.GetString((await store.GetBytesAsync("results/j1/.claim", Ct))!.Value.Bytes));
    }

    [Fact]
    public async Task Concurrent_claims_have_exactly_one_winner()
    {
        var store = await CreateStoreAsync();
        var wins = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Task.Run(() => store.TryCreateAsync("results/race/.claim", Encoding.UTF8.GetBytes("w" + i), cancellationToken: Ct))));
        Assert.Equal(1, wins.Count(w => w));
    }

    [Fact]
    public async Task List_by_prefix_is_ordered_and_respects_boundaries()
    {
        var store = await CreateStoreAsync();
        foreach (var p in new[] { "results/job1/b.png", "results/job1/a.png", "results/job1/sub/c.png", "results/job10/x.png", "status/job1.json" })
            await store.PutBytesAsync(p, Encoding.UTF8.GetBytes(p), Opts("image/png", new() { ["k"] = "v" }), Ct);

        var listed = new List<BlobProperties>();
        await foreach (var b in store.ListAsync("results/job1/", Ct)) listed.Add(b);
        Assert.Equal(["results/job1/a.png", "results/job1/b.png", "results/job1/sub/c.png"], listed.Select(b => b.Path));
        Assert.All(listed, b => Assert.Equal("v", b.Metadata["k"]));
        Assert.All(listed, b => Assert.Equal(Encoding.UTF8.GetByteCount(b.Path), b.Length));

        var all = new List<string>();
        await foreach (var b in store.ListAsync("results/job1", Ct)) all.Add(b.Path);
        Assert.Contains("results/job10/x.png", all); // a prefix, not a folder

        var none = new List<string>();
        await foreach (var b in store.ListAsync("datasets/", Ct)) none.Add(b.Path);
        Assert.Empty(none);
    }

    [Fact]
    public async Task Set_metadata_replaces_it_and_keeps_content()
    {
        var store = await CreateStoreAsync();
        var v1 = await store.PutBytesAsync("models/g.pt", "weights"u8.ToArray(), Opts("application/octet-stream", new() { ["a"] = "1" }), Ct);
        var v2 = await store.SetMetadataAsync("models/g.pt", new Dictionary<string, string> { ["sha256"] = "abc" }, BlobConditions.IfVersion(v1.ETag), Ct);
        Assert.NotEqual(v1.ETag, v2.ETag);
        var got = (await store.GetBytesAsync("models/g.pt", Ct))!.Value;
        Assert.Equal("weights", Encoding.UTF8.GetString(got.Bytes));
        Assert.Equal("abc", got.Properties.Metadata["sha256"]);
        Assert.False(got.Properties.Metadata.ContainsKey("a"));
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => store.SetMetadataAsync("models/g.pt", new Dictionary<string, string>(), BlobConditions.IfVersion(v1.ETag), Ct));
    }

    [Fact]
    public async Task Delete_honours_conditions()
    {
        var store = await CreateStoreAsync();
        var v1 = await store.PutBytesAsync("rejected/x.png.json", "{}"u8.ToArray(), Opts("application/json"), Ct);
        await store.PutBytesAsync("rejected/x.png.json", "{ }"u8.ToArray(), Opts("application/json"), Ct);
        await Assert.ThrowsAsync<BlobConditionFailedException>(() => store.DeleteAsync("rejected/x.png.json", BlobConditions.IfVersion(v1.ETag), Ct));
        Assert.True(await store.DeleteAsync("rejected/x.png.json", null, Ct));
        Assert.Null(await store.GetPropertiesAsync("rejected/x.png.json", Ct));
    }

    [Theory]
    [InlineData("uploads/../status/x.json")]
    [InlineData("/etc/passwd")]
    [InlineData("secrets/x")]
    [InlineData("uploads/a\\..\\b")]
    [InlineData("uploads")]
    public async Task Unsafe_paths_are_refused_before_any_io(string path)
    {
        var store = await CreateStoreAsync();
        await Assert.ThrowsAsync<ArgumentException>(() => store.PutBytesAsync(path, "x"u8.ToArray(), null, Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => store.GetAsync(path, null, Ct));
    }

    [Fact]
    public async Task Large_blob_round_trips_byte_for_byte()
    {
        var store = await CreateStoreAsync();
        var data = new byte[3 * 1024 * 1024 + 17];
        new Random(42).NextBytes(data);
        await store.PutAsync("datasets/b1/big.bin", new MemoryStream(data), Opts("application/octet-stream"), Ct);
        var got = (await store.GetBytesAsync("datasets/b1/big.bin", Ct))!.Value;
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(got.Bytes));
        Assert.Equal(data.Length, got.Properties.Length);
    }

    [Fact]
    public async Task Concurrent_json_line_appends_lose_nothing()
    {
        var store = await CreateStoreAsync();
        await Task.WhenAll(Enumerable.Range(0, 6).Select(i => Task.Run(() =>
            store.AppendJsonLineAsync("metrics/fid50k_full/all.jsonl", new Dictionary<string, int> { ["i"] = i }, 64, Ct))));
        var lines = await store.ReadJsonLinesAsync<Dictionary<string, int>>("metrics/fid50k_full/all.jsonl", Ct);
        Assert.Equal(Enumerable.Range(0, 6), lines.Select(l => l["i"]).Order());
    }
}
