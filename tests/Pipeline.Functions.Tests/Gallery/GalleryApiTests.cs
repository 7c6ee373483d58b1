using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Functions.Services;
using Pipeline.Functions.Tests.Functions;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Gallery;

/// <summary>The Gallery function (index, batch pages, "more like this") over what a worker writes to storage.</summary>
public sealed class GalleryApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Signs a path as a recognisable fake URL, so tests see exactly which blobs were signed.</summary>
    internal sealed class EchoSigner : ILinkSigner
    {
        public Task<Uri?> SignAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken) =>
            Task.FromResult<Uri?>(new Uri("https://signed.example/" + path));
    }

    private static async Task<FunctionsHost> HostAsync(int v2Count = 5)
    {
        var host = new FunctionsHost(services: s => s.AddSingleton<ILinkSigner, EchoSigner>());
        await GallerySeed.SeedAsync(host.Store, v2Count, Ct);
        return host;
    }

    private static async Task<JsonObject> GetAsync(FunctionsHost host, string path, object? query = null, int expect = 200)
    {
        var (status, body, _) = await host.InvokeHttpAsync("Gallery", "GET", "gallery/" + path, query: query, routeParams: new { path });
        Assert.True(status == expect, $"{path}: {status} {body}");
        return JsonNode.Parse(body)!.AsObject();
    }

    private static async Task<(int Status, JsonObject Body)> MoreAsync(FunctionsHost host, string json)
    {
        var (status, body, _) = await host.InvokeHttpAsync("Gallery", "POST", "gallery/more", routeParams: new { path = "more" }, body: json);
        return (status, JsonNode.Parse(body)!.AsObject());
    }

    [Fact]
    public async Task TheWorkersIndexesGiveTheSamePagesAsAScanOfStorage()
    {
        await using var host = await HostAsync();
        for (int i = 0; i < 3; i++)
            await host.Store.PutJsonAsync(BlobLayout.StatusDocument("job-" + i), new JobStatus { JobId = "job-" + i, Kind = JobKind.Translation, State = i == 0 ? JobState.Failed : JobState.Succeeded, UpdatedAt = DateTimeOffset.UnixEpoch.AddDays(i) }, cancellationToken: Ct);
        await host.Store.PutJsonAsync(BlobLayout.MetricEvaluation("fid50k_full", DateTimeOffset.UnixEpoch, "r1"), new Pipeline.Metrics.MetricRecord { Metric = "fid50k_full", Status = "ok", Value = 7, Timestamp = DateTimeOffset.UnixEpoch, RunId = "r1" }, cancellationToken: Ct);
        var scanned = (await GetAsync(host, "")).ToJsonString();
        var (_, scannedMetrics, _) = await host.InvokeHttpAsync("Metrics", "GET", "metrics", query: new { gallery = "100" });

        Assert.Equal(11, await Pipeline.Infra.Indexes.GalleryIndex.RebuildAsync(host.Store, Ct)); // 4 batches, 2 grids, 5 results
        await Pipeline.Infra.Indexes.MetricIndex.Feed(host.Store).ReplaceAsync([.. await Pipeline.Infra.Indexes.MetricIndex.ScanAsync(host.Store, Ct)], Ct);
        await Pipeline.Infra.Indexes.JobStateIndex.Feed(host.Store).ReplaceAsync([.. await Pipeline.Infra.Indexes.JobStateIndex.ScanAsync(host.Store, Ct)], Ct);
        Assert.Equal(scanned, (await GetAsync(host, "")).ToJsonString());
        var (_, indexedMetrics, _) = await host.InvokeHttpAsync("Metrics", "GET", "metrics", query: new { gallery = "100" });
        Assert.Equal(scannedMetrics, indexedMetrics);
        Assert.Contains("\"failed\":1", indexedMetrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheIndexListsBatchesPerModelWithCoversPanoramasAndGrids()
    {
        await using var host = await HostAsync();
        var index = await GetAsync(host, "");
        var collections = index["collections"]!.AsArray().Select(c => c!.AsObject()).ToDictionary(c => (string)c["batchId"]!);
        Assert.Equal(new[] { GallerySeed.HostileBatch, GallerySeed.PanoramaBatch, GallerySeed.V1Batch, GallerySeed.V2Batch }.Order(StringComparer.Ordinal), collections.Keys.Order(StringComparer.Ordinal));

        var v2 = collections[GallerySeed.V2Batch];
        Assert.Equal("StyleGAN2", (string?)v2["family"]);
        Assert.Equal(GallerySeed.V2Model, (string?)v2["model"]);
        Assert.Equal("Truncation", (string?)v2["operation"]);
        Assert.Equal(5, (int)v2["count"]!);
        Assert.Equal("0.7", (string?)v2["settings"]!["truncation"]);
        Assert.Equal("1000..1004", (string?)v2["settings"]!["seeds"]);
        // Covers are thumbnails where the worker wrote one, else the image itself.
        Assert.Equal($"https://signed.example/datasets/{GallerySeed.V2Batch}/thumbs/00000.png", (string?)v2["cover"]!["url"]);
        Assert.True((bool)v2["cover"]!["thumbnail"]!);
        var v1 = collections[GallerySeed.V1Batch];
        Assert.Equal("StyleGAN v1", (string?)v1["family"]);
        Assert.False((bool)v1["cover"]!["thumbnail"]!);
        Assert.Equal($"https://signed.example/datasets/{GallerySeed.V1Batch}/00000.png", (string?)v1["cover"]!["url"]);

        // Panoramas only for SOAT panorama batches.
        Assert.Equal(2, collections[GallerySeed.PanoramaBatch]["panoramas"]!.AsArray().Count);
        Assert.Null(v2["panoramas"]);
        // A manifest pointing outside its folder gets nothing signed.
        Assert.Null(collections[GallerySeed.HostileBatch]["cover"]);

        // Both ranges of the batch, coarse before middle whatever order they were written in.
        var grids = index["grids"]!.AsArray();
        Assert.Equal(["coarse", "middle"], grids.Select(g => (string?)g!["range"]!["name"]));
        var grid = grids[0]!.AsObject();
        Assert.Equal(GallerySeed.GridBatch, (string?)grid["batchId"]);
        Assert.Equal("StyleGAN v1", (string?)grid["family"]);
        Assert.Equal("coarse", (string?)grid["range"]!["name"]);
        Assert.Equal(2, grid["rowSources"]!.AsArray().Count);
        Assert.Equal(3, grid["columnSources"]!.AsArray().Count);
        var cells = grid["cells"]!.AsArray();
        Assert.Equal(6, cells.Count);
        Assert.Equal($"https://signed.example/datasets/{GallerySeed.GridBatch}/mix-coarse/r1_c2.png", (string?)cells.Single(c => (int)c!["row"]! == 1 && (int)c["column"]! == 2)!["url"]);
        Assert.Equal($"https://signed.example/datasets/{GallerySeed.GridBatch}/mix-coarse.png", (string?)grid["grid"]);
    }

    [Fact]
    public async Task TranslationAndProjectionResultsAreCollectionsOfTheirOwn()
    {
        await using var host = await HostAsync();
        var results = (await GetAsync(host, ""))["results"]!.AsArray().Select(r => r!.AsObject()).ToDictionary(r => (string)r["jobId"]!);
        string council = JobIds.For(GallerySeed.Council), pix = JobIds.For(GallerySeed.Pix2Pix), projection = JobIds.For(GallerySeed.Projection), hostile = JobIds.For(GallerySeed.HostileResult);
        // Augmentation results are batches (shown from their manifests), not result collections.
        Assert.Equal(new[] { council, pix, projection, hostile }.Order(StringComparer.Ordinal), results.Keys.Order(StringComparer.Ordinal));

        var c = results[council];
        Assert.Equal("translation", (string?)c["kind"]);
        Assert.Equal("Council GAN: selfie to anime", (string?)c["title"]);
        Assert.Equal(GallerySeed.CouncilModel, (string?)c["model"]);
        Assert.Equal("uploads/selfies/me.jpg", (string?)c["settings"]!["input"]);
        Assert.Equal("2", (string?)c["settings"]!["outputs"]);
        Assert.Equal(42, (double)c["seconds"]!);
        // Images only (no JSON records), outputs first and the model input last.
        Assert.Equal(["output-0.png", "output-1.png", "contact_sheet.png", "input.png"], c["images"]!.AsArray().Select(i => (string?)i!["name"]));
        Assert.Equal($"https://signed.example/results/{council}/output-0.png", (string?)c["images"]![0]!["url"]);
        Assert.Equal("pix2pixHD: label map to photo", (string?)results[pix]["title"]);

        var p = results[projection];
        Assert.Equal("projection", (string?)p["kind"]);
        Assert.Equal(["reconstruction.png", "target.png"], p["images"]!.AsArray().Select(i => (string?)i!["name"]));
        Assert.Equal("w+", (string?)p["settings"]!["latent"]);
        Assert.Equal(0.2345, (double)p["metrics"]!["lpips"]!);

        // A result document naming a blob outside its job's folder gets nothing signed for it.
        var h = results[hostile]["images"]!.AsArray();
        Assert.Null(h.Single(i => (string?)i!["name"] == "00000.png")!["url"]);
        Assert.Equal($"https://signed.example/results/{hostile}/output-0.png", (string?)h.Single(i => (string?)i!["name"] == "output-0.png")!["url"]);
    }

    [Fact]
    public async Task ABatchComesInPagesWithThumbnailsFullImagesAndEachImagesSettings()
    {
        await using var host = await HostAsync(v2Count: 130);
        var first = await GetAsync(host, "batches/" + GallerySeed.V2Batch);
        Assert.Equal(130, (int)first["total"]!);
        Assert.Equal(60, first["items"]!.AsArray().Count); // default page
        Assert.Equal(["coarse", "nearby"], first["moreLikeThis"]!.AsArray().Select(m => (string)m!).Order(StringComparer.Ordinal));

        var page = await GetAsync(host, "batches/" + GallerySeed.V2Batch, new { offset = "120", limit = "50" });
        var items = page["items"]!.AsArray();
        Assert.Equal(10, items.Count);
        var item = items[3]!;
        Assert.Equal(123, (int)item["index"]!);
        Assert.Equal(GallerySeed.V2FirstSeed + 123, (long)item["seed"]!);
        Assert.Equal($"https://signed.example/datasets/{GallerySeed.V2Batch}/thumbs/00123.png", (string?)item["thumb"]);
        Assert.Equal($"https://signed.example/datasets/{GallerySeed.V2Batch}/00123.png", (string?)item["url"]);
        Assert.Equal("0.7", (string?)item["settings"]!["truncation"]);

        var v1 = await GetAsync(host, "batches/" + GallerySeed.V1Batch);
        Assert.Equal("54", (string?)v1["items"]![1]!["settings"]!["mixSeed"]);
        // Panorama images are several latents: no "more like this".
        Assert.Empty((await GetAsync(host, "batches/" + GallerySeed.PanoramaBatch))["moreLikeThis"]!.AsArray());
        var hostile = await GetAsync(host, "batches/" + GallerySeed.HostileBatch);
        Assert.Null(hostile["items"]![0]!["url"]);
        Assert.Null(hostile["items"]![0]!["thumb"]);
    }

    [Theory]
    [InlineData("batches/nope", null, 404)]
    [InlineData("batches/..", null, 400)]
    [InlineData("batches/" + GallerySeed.V2Batch, "0", 400)]
    [InlineData("batches/" + GallerySeed.V2Batch, "201", 400)]
    [InlineData("elsewhere", null, 404)]
    public async Task BadBatchRequestsAreRejectedWithAReason(string path, string? limit, int status)
    {
        await using var host = await HostAsync();
        var body = await GetAsync(host, path, limit is null ? null : new { limit }, expect: status);
        Assert.False(string.IsNullOrEmpty((string?)body["detail"]));
    }

    [Fact]
    public async Task MoreLikeThisQueuesAnAugmentationJobAroundTheImage()
    {
        await using var host = await HostAsync();
        var (status, body) = await MoreAsync(host, $$"""{"batchId":"{{GallerySeed.V2Batch}}","index":3,"mode":"nearby"}""");
        Assert.Equal(202, status);
        var message = Assert.Single(await host.PeekAllAsync("jobs-augment"));
        Assert.Equal((string?)body["jobId"], message.MessageId);
        var job = Assert.IsType<AugmentationBatchJob>(JobEnvelope.Parse(message.Body.Span).Job);
        Assert.Equal(GallerySeed.V2Model, job.Model.Path);
        Assert.Equal(StyleGanFamily.StyleGan2, job.Family);
        Assert.Equal(AugmentationOp.Truncation, job.Operation);
        Assert.Equal(0.7, job.Truncation);
        Assert.Equal(GallerySeed.V2FirstSeed + 3, job.BaseSeed);
        Assert.Equal(MoreLikeThis.NearbyVariation, job.Variation);
        Assert.Equal(GallerySeed.V2FirstSeed + 4, job.Seed);
        Assert.Equal(MoreLikeThis.DefaultCount, job.Count);
        Assert.Equal((string?)body["batchId"], job.BatchId);
        Assert.Equal("queued", (await host.Store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(job.JobIdFor()), Ct))!.State.ToString().ToLowerInvariant());

        // Asking again is the same job, not a second batch.
        var (again, body2) = await MoreAsync(host, $$"""{"batchId":"{{GallerySeed.V2Batch}}","index":3,"mode":"nearby"}""");
        Assert.Equal(202, again);
        Assert.Equal((string?)body["jobId"], (string?)body2["jobId"]);

        var (coarse, body3) = await MoreAsync(host, $$"""{"batchId":"{{GallerySeed.V1Batch}}","index":1,"mode":"coarse","count":5}""");
        Assert.Equal(202, coarse);
        var mix = (await host.PeekAllAsync("jobs-augment")).Select(m => JobEnvelope.Parse(m.Body.Span)).Single(e => e.JobId == (string?)body3["jobId"]).Job;
        var mixJob = Assert.IsType<AugmentationBatchJob>(mix);
        Assert.Equal(AugmentationOp.StyleMixing, mixJob.Operation);
        Assert.Equal(StyleGanFamily.StyleGan1, mixJob.Family);
        Assert.Equal(MoreLikeThis.CoarseCrossover(StyleGanFamily.StyleGan1), mixJob.MixingCrossover);
        Assert.Equal(51, mixJob.BaseSeed);
        Assert.Null(mixJob.Variation);
        Assert.Equal(5, mixJob.Count);
    }

    [Theory]
    [InlineData("""{"batchId":"landscapes-pano-20261101-0300","index":0,"mode":"nearby"}""", 422)]
    [InlineData("""{"batchId":"ffhq-v2-20261101-0300","index":0,"mode":"sideways"}""", 422)]
    [InlineData("""{"batchId":"ffhq-v2-20261101-0300","index":5,"mode":"nearby"}""", 404)]
    [InlineData("""{"batchId":"ffhq-v2-20261101-0300","index":-1,"mode":"nearby"}""", 400)]
    [InlineData("""{"batchId":"ffhq-v2-20261101-0300","index":0,"mode":"nearby","count":65}""", 400)]
    [InlineData("""{"batchId":"../x","index":0,"mode":"nearby"}""", 400)]
    [InlineData("""{"batchId":"missing","index":0,"mode":"nearby"}""", 404)]
    [InlineData("""[1,2]""", 400)]
    public async Task MoreLikeThisRejectsWhatItCannotDoAndQueuesNothing(string json, int expected)
    {
        await using var host = await HostAsync();
        var (status, body) = await MoreAsync(host, json);
        Assert.Equal(expected, status);
        Assert.False(string.IsNullOrEmpty((string?)body["detail"]));
        Assert.Empty(await host.PeekAllAsync("jobs-augment"));
    }
}

internal static class JobIdExtensions
{
    public static string JobIdFor(this JobSpec job) => JobIds.For(job);
}
