using System.Text.Json;
using Pipeline.Functions.Tests.Functions;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Tests.Gallery;

/// <summary>
/// What a worker leaves in storage for the gallery, written through the same contract records the worker uses
/// (DatasetManifest, MixManifest): a StyleGAN2 truncation batch with thumbnails, a StyleGAN v1 mixing batch written
/// before thumbnails existed, a SOAT panorama batch, a v1 style-mixing grid, and a manifest that points outside its folder.
/// </summary>
public static class GallerySeed
{
    public const string V2Batch = "ffhq-v2-20261101-0300";
    public const string V1Batch = "celeba-v1-20261101-0300";
    public const string PanoramaBatch = "landscapes-pano-20261101-0300";
    public const string GridBatch = "celeba-mixgrid";
    public const string HostileBatch = "hostile";
    public const string V2Model = "models/stylegan2-ffhq-256.pt";
    public const string V1Model = "models/stylegan-celeba-128.model";
    public const long V2FirstSeed = 1000;

    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 3, 0, 0, TimeSpan.Zero);

    public static async Task SeedAsync(IBlobStore store, int v2Count, CancellationToken ct)
    {
        var full = TestImages.Png(64, 64);
        var small = TestImages.Png(32, 32);

        var v2 = new AugmentationBatchJob { Model = new BlobRef(V2Model), BatchId = V2Batch, Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Truncation, Truncation = 0.7, Count = v2Count, Seed = V2FirstSeed };
        var items = new List<DatasetItem>();
        for (int i = 0; i < v2Count; i++)
        {
            var path = BlobLayout.DatasetItem(V2Batch, $"{i:D5}.png");
            var thumb = BlobLayout.DatasetItem(V2Batch, $"thumbs/{i:D5}.png");
            await store.PutBytesAsync(path, full, cancellationToken: ct);
            await store.PutBytesAsync(thumb, small, cancellationToken: ct);
            items.Add(new DatasetItem(path, V2FirstSeed + i, null, new Dictionary<string, string> { ["family"] = "stylegan2", ["truncation"] = "0.7", ["operation"] = "Truncation" }, thumb));
        }
        await PutManifestAsync(store, v2, items, T0, ct);

        var v1 = new AugmentationBatchJob { Model = new BlobRef(V1Model), BatchId = V1Batch, Family = StyleGanFamily.StyleGan1, Operation = AugmentationOp.StyleMixing, Truncation = 0.8, Count = 3, Seed = 50 };
        items = [];
        for (int i = 0; i < 3; i++)
        {
            var path = BlobLayout.DatasetItem(V1Batch, $"{i:D5}.png");
            await store.PutBytesAsync(path, full, cancellationToken: ct);
            items.Add(new DatasetItem(path, 50 + i, null, new Dictionary<string, string> { ["mixSeed"] = (53 + i).ToString(System.Globalization.CultureInfo.InvariantCulture), ["mixFromLevel"] = "2" }));
        }
        await PutManifestAsync(store, v1, items, T0.AddMinutes(1), ct);

        var pano = new AugmentationBatchJob { Model = new BlobRef(V2Model), BatchId = PanoramaBatch, Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.SoatPanorama, PanoramaLatents = 3, Truncation = 0.7, Count = 2, Seed = 300 };
        items = [];
        for (int i = 0; i < 2; i++)
        {
            var path = BlobLayout.DatasetItem(PanoramaBatch, $"{i:D5}.png");
            await store.PutBytesAsync(path, TestImages.Png(192, 64), cancellationToken: ct);
            items.Add(new DatasetItem(path, 300 + i));
        }
        await PutManifestAsync(store, pano, items, T0.AddMinutes(2), ct);

        // A manifest naming blobs outside its batch (a bug or tampering): nothing of it may be signed.
        var hostile = new AugmentationBatchJob { Model = new BlobRef(V2Model), BatchId = HostileBatch, Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Sample, Count = 1 };
        await store.PutBytesAsync("results/secret/output-0.png", full, cancellationToken: ct);
        await PutManifestAsync(store, hostile, [new DatasetItem("results/secret/output-0.png", 0, null, null, "datasets/" + V2Batch + "/../../results/secret/output-0.png")], T0.AddMinutes(3), ct);

        await SeedGridAsync(store, "coarse", 0, 1, [4, 8], ct);
        await SeedGridAsync(store, "middle", 2, 3, [16, 32], ct);
        await SeedResultsAsync(store, ct);
    }

    public const string CouncilModel = "models/councilgan-selfie2anime.pt";
    public const string Pix2PixModel = "models/pix2pixhd-cityscapes.pt";
    public static readonly TranslationJob Council = new() { Model = new BlobRef(CouncilModel), Variant = TranslationVariant.CouncilSelfieToAnime, Input = new BlobRef("uploads/selfies/me.jpg", "0x1"), Outputs = 2, Seed = 7 };
    public static readonly TranslationJob Pix2Pix = new() { Model = new BlobRef(Pix2PixModel), Variant = TranslationVariant.Pix2PixHdLabelToImage, Input = new BlobRef("uploads/labels/street.png", "0x2") };
    public static readonly ProjectionJob Projection = new() { Model = new BlobRef(V2Model), Input = new BlobRef("uploads/project/face.jpg", "0x3"), Steps = 500, WPlus = true };
    public static readonly TranslationJob HostileResult = new() { Model = new BlobRef(CouncilModel), Variant = TranslationVariant.CouncilSelfieToAnime, Input = new BlobRef("uploads/selfies/other.jpg", "0x4") };

    /// <summary>
    /// Finished jobs as the worker leaves them (outputs, then result.json): a Council translation with two outputs, a
    /// contact sheet and its model input; a pix2pixHD translation; a projection (reconstruction, target, latent); an
    /// augmentation job's result (its images are a batch, not a result collection); and a result document naming a
    /// blob outside its job's folder.
    /// </summary>
    public static async Task SeedResultsAsync(IBlobStore store, CancellationToken ct)
    {
        var png = TestImages.Png(64, 64);
        async Task<OutputBlob> Out(string jobId, string name, string type, string role)
        {
            var path = BlobLayout.Result(jobId, name);
            await store.PutBytesAsync(path, type.StartsWith("image/", StringComparison.Ordinal) ? png : [1, 2, 3], cancellationToken: ct);
            return new OutputBlob(path, type, 3, null, role);
        }
        async Task Result(JobSpec job, IReadOnlyList<OutputBlob> outputs, int minutes, Dictionary<string, double>? metrics = null) =>
            await store.PutJsonAsync(BlobLayout.ResultDocument(JobIds.For(job)), new JobResult
            {
                JobId = JobIds.For(job), Kind = job.Kind, Job = job, Outputs = outputs, Metrics = metrics,
                StartedAt = T0.AddMinutes(minutes), FinishedAt = T0.AddMinutes(minutes).AddSeconds(42),
            }, cancellationToken: ct);

        var c = JobIds.For(Council);
        // Written in the worker's order: outputs, contact sheet, input; the gallery puts the model input last anyway.
        await Result(Council, [await Out(c, "input.png", "image/png", "model-input"), await Out(c, "output-0.png", "image/png", "output"), await Out(c, "output-1.png", "image/png", "output"),
            await Out(c, "contact_sheet.png", "image/png", "contact-sheet"), await Out(c, "translation.json", "application/json", "record")], 10);
        var p = JobIds.For(Pix2Pix);
        await Result(Pix2Pix, [await Out(p, "output-0.png", "image/png", "translation")], 11);
        var j = JobIds.For(Projection);
        await Result(Projection, [await Out(j, "latent.npy", "application/octet-stream", "latent"), await Out(j, "reconstruction.png", "image/png", "reconstruction"),
            await Out(j, "target.png", "image/png", "model-input"), await Out(j, "projection.json", "application/json", "report")], 12, new() { ["lpips"] = 0.2345, ["mse"] = 0.01, ["steps"] = 500 });
        var aug = new AugmentationBatchJob { Model = new BlobRef(V2Model), BatchId = V2Batch, Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Sample, Count = 1 };
        await Result(aug, [new OutputBlob(BlobLayout.DatasetItem(V2Batch, "00000.png"), "image/png", 3)], 13);
        var h = JobIds.For(HostileResult);
        await Result(HostileResult, [new OutputBlob(BlobLayout.DatasetItem(V2Batch, "00000.png"), "image/png", 3, null, "output"), await Out(h, "output-0.png", "image/png", "output")], 14);
    }

    public static async Task SeedGridAsync(IBlobStore store, string range, int lo, int hi, int[] resolutions, CancellationToken ct)
    {
        const int rows = 2, cols = 3, s = 64, pad = 2;
        var prefix = BlobLayout.DatasetPrefix(GridBatch);
        var tile = TestImages.Png(s, s);
        MixRect Rect(int r, int c) => new(pad + c * (s + pad), pad + r * (s + pad), s, s);
        var rowSources = new List<MixSource>();
        var colSources = new List<MixSource>();
        var cells = new List<MixCell>();
        for (int r = 0; r < rows; r++)
        {
            await store.PutBytesAsync(prefix + $"mix-{range}/row{r}.png", tile, cancellationToken: ct);
            rowSources.Add(new MixSource(r, r, $"mix-{range}/row{r}.png", Rect(r + 1, 0)));
        }
        for (int c = 0; c < cols; c++)
        {
            await store.PutBytesAsync(prefix + $"mix-{range}/col{c}.png", tile, cancellationToken: ct);
            colSources.Add(new MixSource(c, rows + c, $"mix-{range}/col{c}.png", Rect(0, c + 1)));
        }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                await store.PutBytesAsync(prefix + $"mix-{range}/r{r}_c{c}.png", tile, cancellationToken: ct);
                cells.Add(new MixCell(r, c, r, rows + c, range, lo, hi, 0.7, 0, $"mix-{range}/r{r}_c{c}.png", Rect(r + 1, c + 1)));
            }
        await store.PutBytesAsync(prefix + $"mix-{range}.png", TestImages.Png(pad + (cols + 1) * (s + pad), pad + (rows + 1) * (s + pad)), cancellationToken: ct);
        var manifest = new MixManifest
        {
            CreatedUtc = T0,
            Model = new MixModelInfo("stylegan1", "stylegan-celeba-128.model", 1234, "00", 512, 6, true),
            Step = 4,
            Resolution = 64,
            Range = new MixRangeInfo(range, lo, hi, resolutions),
            Truncation = 0.7,
            NoiseSeed = 0,
            MeanStyle = new MixMeanStyleInfo(0, 10240),
            Rows = rows,
            Columns = cols,
            Grid = new MixGridImage($"mix-{range}.png", pad + (cols + 1) * (s + pad), pad + (rows + 1) * (s + pad), pad, "row-major"),
            RowSources = rowSources,
            ColumnSources = colSources,
            Cells = cells,
        };
        await store.PutBytesAsync(prefix + $"mix-{range}.json", JsonSerializer.SerializeToUtf8Bytes(manifest, MixManifest.Json), cancellationToken: ct);
    }

    private static Task PutManifestAsync(IBlobStore store, AugmentationBatchJob job, List<DatasetItem> items, DateTimeOffset at, CancellationToken ct) =>
        store.PutJsonAsync(BlobLayout.DatasetManifest(job.BatchId), new DatasetManifest { BatchId = job.BatchId, JobId = JobIds.For(job), Job = job, Items = items, CreatedAt = at }, cancellationToken: ct);
}
