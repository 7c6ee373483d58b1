using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Options;
using Pipeline.Functions.Http;
using Pipeline.Functions.Services;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Indexes;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions;

/// <summary>
/// Gallery (GET gallery, GET gallery/batches/{batchId}?offset&amp;limit, POST gallery/more): the generated works as the
/// worker left them in storage. The index page reads the gallery index the worker maintains
/// (<see cref="GalleryIndex"/>: one conditional GET, whatever the number of batches ever generated), never a listing;
/// batch pages read their one manifest, with signed links to thumbnails.
/// </summary>
public sealed class GalleryApi(HttpAuth auth, IBlobStore store, CachedBlobReader reader, ILinkSigner links, IOptions<SasOptions> sasOptions, JobPublisher publisher, TimeProvider time)
{
    /// <summary>Function name of <see cref="GalleryAsync"/>.</summary>
    public const string Gallery = "Gallery";

    /// <summary>Most recent batches the index looks at (older ones stay in storage, just not on the page).</summary>
    public const int MaxCollections = 200;
    /// <summary>Largest page of items.</summary>
    public const int MaxPage = 200;

    private readonly SasOptions sas = sasOptions.Value;

    /// <summary>Gallery (GET api/gallery, GET api/gallery/batches/{batchId}, POST api/gallery/more): every gallery route.</summary>
    [Function(Gallery)]
    public async Task<IResult> GalleryAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", Route = "gallery/{*path}")] HttpRequest request,
        string? path = null,
        CancellationToken cancellationToken = default) =>
        await auth.RunAsync(HttpTriggerRequest.From(request, ("path", path)), async req =>
        {
            var parts = (req.Param("path") ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
            return (req.Method, parts) switch
            {
                ("GET", []) => HttpTriggerResponse.Json(200, await IndexAsync(cancellationToken)),
                ("GET", ["batches", var batchId]) => await BatchAsync(batchId, req, cancellationToken),
                ("POST", ["more"]) => await MoreLikeThisAsync(req, cancellationToken),
                (_, [] or ["batches", _] or ["more"]) => HttpTriggerResponse.Problem(405, "method_not_allowed", "GET gallery and gallery/batches/{batchId}; POST gallery/more."),
                _ => HttpTriggerResponse.Problem(404, "not_found", "No such gallery route."),
            };
        });

    private async Task<object> IndexAsync(CancellationToken ct)
    {
        var entries = await IndexEntriesAsync(reader, store, MaxCollections, ct);
        var collections = new List<object>();
        foreach (var e in entries.Where(e => e.Batch is not null).OrderByDescending(e => e.At).ThenBy(e => e.Path, StringComparer.Ordinal).Take(MaxCollections))
        {
            var manifest = e.Batch!;
            var first = manifest.Items.Count > 0 ? manifest.Items[0] : null;
            collections.Add(new
            {
                batchId = manifest.BatchId,
                jobId = manifest.JobId,
                model = manifest.Job.Model.Path,
                family = DashboardApi.Family(manifest.Job.Family),
                operation = manifest.Job.Operation.ToString(),
                count = e.Count,
                createdAt = manifest.CreatedAt.ToUnixTimeSeconds(),
                settings = JobSettings(manifest.Job),
                cover = first is null ? null : await ThumbAsync(manifest.BatchId, first, ct),
                // Panoramas are wide: the strip shows them at full size (lazily), not as square thumbnails.
                panoramas = manifest.Job.Operation == AugmentationOp.SoatPanorama
                    ? await Task.WhenAll(manifest.Items.Take(12).Select(async (it, i) => new { index = i, seed = it.Seed, url = await SignInBatchAsync(manifest.BatchId, it.Path, ct) }))
                    : null,
            });
        }

        // Newest batch first; within a batch coarse, middle, fine (the order a reader compares them in).
        var grids = entries.Where(e => e.Grid is not null).ToList();
        var newest = grids.GroupBy(g => g.Path[..g.Path.LastIndexOf('/')]).ToDictionary(b => b.Key, b => b.Max(g => g.At));
        var gridList = new List<(DateTimeOffset Batch, int Lo, object Grid)>();
        foreach (var g in grids.OrderByDescending(g => g.At).ThenBy(g => g.Path, StringComparer.Ordinal).Take(MaxCollections))
        {
            var grid = await GridAsync(g.Path, g.Grid!, ct);
            gridList.Add((newest[g.Path[..g.Path.LastIndexOf('/')]], grid.Lo, grid.Json));
        }
        return new { collections, grids = gridList.OrderByDescending(g => g.Batch).ThenBy(g => g.Lo).Select(g => g.Grid), results = await ResultCollectionsAsync(entries, ct) };
    }

    /// <summary>
    /// What the gallery and the dashboard show: the gallery index's head (one conditional GET, no content when it is
    /// unchanged since this process last read it). Storage that no worker has indexed yet (data written before the
    /// index existed) is served from a scan of the newest <paramref name="maxPerKind"/> documents of each kind, as the
    /// gallery always did, until a worker's next result seeds the index.
    /// </summary>
    internal static async Task<IReadOnlyList<GalleryEntry>> IndexEntriesAsync(CachedBlobReader reader, IBlobStore store, int maxPerKind, CancellationToken ct)
    {
        try
        {
            if (await reader.GetJsonAsync<FeedPage<GalleryEntry>>(GalleryIndex.HeadPath, ct) is { } head) return head.Entries;
        }
        catch (JsonException)
        {
            // an unreadable index falls back to the scan below
        }
        return await GalleryIndex.ScanAsync(store, maxPerKind, ct);
    }

    /// <summary>Largest number of images of one job result the index lists (a Council job draws a few outputs).</summary>
    public const int MaxResultImages = GalleryIndex.MaxOutputs;

    /// <summary>
    /// Translation and projection results as collections of their own: one per finished job, from its
    /// results/&lt;jobId&gt;/result.json (the document the worker writes last, so a listed job is complete). Their images
    /// are few, so they come inline, the job's outputs first and its model input last.
    /// </summary>
    private async Task<List<object>> ResultCollectionsAsync(IReadOnlyList<GalleryEntry> entries, CancellationToken ct)
    {
        var results = new List<object>();
        foreach (var e in entries.Where(e => e.Result is { Job: TranslationJob or ProjectionJob }).OrderByDescending(e => e.At).ThenBy(e => e.Path, StringComparer.Ordinal).Take(MaxCollections))
        {
            var r = e.Result!;
            var images = new List<object>();
            foreach (var o in r.Outputs.Where(o => o.ContentType.StartsWith("image/", StringComparison.Ordinal)).OrderBy(o => RolePriority(o.Role)).Take(MaxResultImages))
                images.Add(new { name = o.Path[(o.Path.LastIndexOf('/') + 1)..], role = o.Role, url = await SignInResultAsync(r.JobId, o.Path, ct) });
            results.Add(new
            {
                jobId = r.JobId,
                kind = r.Kind.ToString().ToLowerInvariant(),
                title = ResultTitle(r.Job),
                model = r.Job.Model.Path,
                finishedAt = r.FinishedAt.ToUnixTimeSeconds(),
                seconds = (r.FinishedAt - r.StartedAt).TotalSeconds,
                settings = ResultSettings(r.Job),
                metrics = r.Metrics,
                count = images.Count,
                images,
            });
        }
        return results;
    }

    // What a visitor came for first (the translated or reconstructed image), the model's input last.
    private static int RolePriority(string? role) => role switch
    {
        "output" or "translation" or "reconstruction" => 0,
        "contact-sheet" => 1,
        "model-input" => 2,
        _ => 3,
    };

    private static string ResultTitle(JobSpec job) => job switch
    {
        TranslationJob { Variant: TranslationVariant.CouncilSelfieToAnime } => "Council GAN: selfie to anime",
        TranslationJob { Variant: TranslationVariant.Pix2PixHdLabelToImage } => "pix2pixHD: label map to photo",
        ProjectionJob => "StyleGAN2 projection",
        _ => job.Kind.ToString(),
    };

    internal static Dictionary<string, string> ResultSettings(JobSpec job)
    {
        var s = new Dictionary<string, string>();
        switch (job)
        {
            case TranslationJob t:
                s["variant"] = t.Variant.ToString();
                s["input"] = t.Input.Path;
                s["seed"] = t.Seed.ToString(CultureInfo.InvariantCulture);
                s["outputs"] = t.Outputs.ToString(CultureInfo.InvariantCulture);
                if (t.Size is { } size) s["size"] = size.ToString(CultureInfo.InvariantCulture);
                if (t.Variant == TranslationVariant.CouncilSelfieToAnime) s["cropFace"] = t.CropFace ? "yes" : "no";
                if (t.InstanceMap is { } map) s["instanceMap"] = map.Path;
                break;
            case ProjectionJob p:
                s["input"] = p.Input.Path;
                s["steps"] = p.Steps?.ToString(CultureInfo.InvariantCulture) ?? "worker default";
                s["start"] = p.Init ?? "encoder when the model has one";
                s["latent"] = p.WPlus ? "w+" : "w";
                s["seed"] = p.Seed.ToString(CultureInfo.InvariantCulture);
                s["mse"] = p.Mse.ToString(CultureInfo.InvariantCulture);
                s["alignFace"] = p.AlignFace ? "yes" : "no";
                break;
        }
        return s;
    }

    // Only blobs inside the job's own results folder are signed, whatever a result document says.
    private async Task<string?> SignInResultAsync(string jobId, string path, CancellationToken ct) =>
        BlobNames.IsSafeRelative(path, out _) && path.StartsWith(BlobLayout.ResultsPrefix(jobId), StringComparison.Ordinal)
            ? (await links.SignAsync(path, sas.DefaultLifetime, ct))?.ToString()
            : null;

    private async Task<(int Lo, object Json)> GridAsync(string manifestPath, MixManifest m, CancellationToken ct)
    {
        var folder = manifestPath[..(manifestPath.LastIndexOf('/') + 1)];
        var batchId = folder[(BlobLayout.Datasets.Length + 1)..^1];
        // Manifest paths are relative to its folder; anything that would leave the batch folder is not signed.
        async Task<string?> Url(string relative) =>
            BlobNames.IsSafeRelative(relative, out _) ? await SignInBatchAsync(batchId, folder + relative, ct) : null;
        return (m.Range.Lo, new
        {
            batchId,
            name = Path.GetFileNameWithoutExtension(manifestPath),
            family = DashboardApi.Family(m.Model.Family == "stylegan1" ? StyleGanFamily.StyleGan1 : StyleGanFamily.StyleGan2),
            model = m.Model.File,
            resolution = m.Resolution,
            range = new { name = m.Range.Name, lo = m.Range.Lo, hi = m.Range.Hi, resolutions = m.Range.Resolutions },
            truncation = m.Truncation,
            // v2 grids use the checkpoint's noise buffers: no seed to show.
            noise = m.Noise ?? MixManifest.NoiseSeeded,
            noiseSeed = m.Noise == MixManifest.NoiseStoredBuffers ? (long?)null : m.NoiseSeed,
            rows = m.Rows,
            columns = m.Columns,
            createdAt = m.CreatedUtc.ToUnixTimeSeconds(),
            grid = await Url(m.Grid.Image),
            rowSources = await Task.WhenAll(m.RowSources.Select(async s => new { index = s.Index, seed = s.Seed, url = await Url(s.Image) })),
            columnSources = await Task.WhenAll(m.ColumnSources.Select(async s => new { index = s.Index, seed = s.Seed, url = await Url(s.Image) })),
            cells = await Task.WhenAll(m.Cells.Select(async c => new { row = c.Row, column = c.Column, rowSeed = c.RowSeed, columnSeed = c.ColumnSeed, url = await Url(c.Image) })),
        });
    }

    private async Task<IResult> BatchAsync(string batchId, HttpTriggerRequest req, CancellationToken ct)
    {
        if (!BlobNames.IsSafeId(batchId, out var why)) return HttpTriggerResponse.Problem(400, "bad_batch_id", $"That is not a batch id: {why}.");
        if (!TryPaging(req, out var offset, out var limit, out var error)) return error!;
        var manifest = await TryReadAsync<DatasetManifest>(BlobLayout.DatasetManifest(batchId), ct);
        if (manifest is null || manifest.BatchId != batchId) return HttpTriggerResponse.Problem(404, "batch_not_found", $"datasets/{batchId} has no readable manifest (the batch may still be running).");
        var items = new List<object>();
        foreach (var (item, index) in manifest.Items.Select((it, i) => (it, i)).Skip(offset).Take(limit))
        {
            items.Add(new
            {
                index,
                seed = item.Seed,
                thumb = (await ThumbOrNull(batchId, item, ct))?.url,
                url = await SignInBatchAsync(batchId, item.Path, ct),
                settings = item.Attributes ?? new Dictionary<string, string>(),
            });
        }
        return HttpTriggerResponse.Json(200, new
        {
            batchId,
            jobId = manifest.JobId,
            model = manifest.Job.Model.Path,
            family = DashboardApi.Family(manifest.Job.Family),
            operation = manifest.Job.Operation.ToString(),
            settings = JobSettings(manifest.Job),
            moreLikeThis = MoreLikeThis.Modes(manifest.Job),
            total = manifest.Items.Count,
            offset,
            items,
        });
    }

    private async Task<IResult> MoreLikeThisAsync(HttpTriggerRequest req, CancellationToken ct)
    {
        JsonObject body;
        var text = await req.ReadBodyAsync(ct);
        try { body = JsonNode.Parse(text ?? "") as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException) { return HttpTriggerResponse.Problem(400, "bad_request", "The body must be a JSON object such as {\"batchId\":\"...\",\"index\":3,\"mode\":\"nearby\"}."); }
        var batchId = JsonFields.GetString(body, "batchId");
        if (!BlobNames.IsSafeId(batchId, out var why)) return HttpTriggerResponse.Problem(400, "bad_batch_id", $"batchId: {why}.");
        if (!int.TryParse(JsonFields.GetString(body, "index"), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
            return HttpTriggerResponse.Problem(400, "bad_request", "index must be the item's index in its batch (0, 1, ...).");
        var mode = JsonFields.GetString(body, "mode") ?? "";
        int count = MoreLikeThis.DefaultCount;
        if (JsonFields.GetString(body, "count") is { } c && (!int.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count is < 1 or > MoreLikeThis.MaxCount))
            return HttpTriggerResponse.Problem(400, "bad_request", $"count must be in 1..{MoreLikeThis.MaxCount}.");

        var manifest = await TryReadAsync<DatasetManifest>(BlobLayout.DatasetManifest(batchId!), ct);
        if (manifest is null || manifest.BatchId != batchId) return HttpTriggerResponse.Problem(404, "batch_not_found", $"datasets/{batchId} has no readable manifest.");
        if (index >= manifest.Items.Count) return HttpTriggerResponse.Problem(404, "item_not_found", $"The batch has {manifest.Items.Count} items.");
        AugmentationBatchJob job;
        try { job = MoreLikeThis.Job(manifest.Job, manifest.Items[index], index, mode, count); }
        catch (ArgumentException ex) { return HttpTriggerResponse.Problem(422, "not_supported", ex.Message); }
        var envelope = JobEnvelope.Create(job, "gallery", time.GetUtcNow());
        var outcome = await publisher.PublishAsync(envelope, ct);
        return HttpTriggerResponse.Json(202, new { jobId = envelope.JobId, batchId = job.BatchId, mode, outcome = outcome.ToString().ToLowerInvariant(), settings = JobSettings(job) });
    }

    private static bool TryPaging(HttpTriggerRequest req, out int offset, out int limit, out IResult? error)
    {
        offset = 0;
        limit = 60;
        error = null;
        if (req.Query("offset") is { } o && (!int.TryParse(o, NumberStyles.None, CultureInfo.InvariantCulture, out offset)))
            error = HttpTriggerResponse.Problem(400, "bad_request", "offset must be a non-negative integer.");
        else if (req.Query("limit") is { } l && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPage))
            error = HttpTriggerResponse.Problem(400, "bad_request", $"limit must be in 1..{MaxPage}.");
        return error is null;
    }

    private async Task<T?> TryReadAsync<T>(string path, CancellationToken ct) where T : class
    {
        // A manifest being rewritten or from another schema must not take the page down.
        try { return await store.GetJsonAsync<T>(path, ct); }
        catch (JsonException) { return null; }
    }

    private async Task<(string? url, bool thumbnail)?> ThumbOrNull(string batchId, DatasetItem item, CancellationToken ct)
    {
        if (item.Thumbnail is { } t && await SignInBatchAsync(batchId, t, ct) is { } turl) return (turl, true);
        return await SignInBatchAsync(batchId, item.Path, ct) is { } url ? (url, false) : null;
    }

    private async Task<object?> ThumbAsync(string batchId, DatasetItem item, CancellationToken ct) =>
        await ThumbOrNull(batchId, item, ct) is { } t ? new { t.url, t.thumbnail } : null;

    // Only blobs inside the batch's own folder are signed, whatever a manifest says.
    private async Task<string?> SignInBatchAsync(string batchId, string path, CancellationToken ct) =>
        BlobNames.IsSafeRelative(path, out _) && path.StartsWith(BlobLayout.DatasetPrefix(batchId), StringComparison.Ordinal)
            ? (await links.SignAsync(path, sas.DefaultLifetime, ct))?.ToString()
            : null;

    internal static Dictionary<string, string> JobSettings(AugmentationBatchJob j)
    {
        var s = new Dictionary<string, string>
        {
            ["operation"] = j.Operation.ToString(),
            ["seeds"] = $"{j.Seed}..{j.Seed + j.Count - 1}",
            ["truncation"] = j.Truncation.ToString(CultureInfo.InvariantCulture),
        };
        if (j.MixingCrossover is { } x) s["mixingCrossover"] = x.ToString(CultureInfo.InvariantCulture);
        if (j.Operation == AugmentationOp.SoatPanorama) s["panoramaLatents"] = j.PanoramaLatents.ToString(CultureInfo.InvariantCulture);
        if (j.BaseSeed is { } b) s["baseSeed"] = b.ToString(CultureInfo.InvariantCulture);
        if (j.Variation is { } v) s["variation"] = v.ToString(CultureInfo.InvariantCulture);
        if (j.Size is { } size) s["size"] = size.ToString(CultureInfo.InvariantCulture);
        return s;
    }
}
