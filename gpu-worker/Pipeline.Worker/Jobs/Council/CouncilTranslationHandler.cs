using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Engine.Council;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Imaging;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs.Shared;
using Pipeline.Worker.Metrics;
using Pipeline.Worker.Operations.Imaging;
using Pipeline.Worker.Operations.Inputs;
using Pipeline.Worker.Operations.Metrics;
using Pipeline.Worker.Operations.Translation;
using TorchSharp;

namespace Pipeline.Worker.Jobs.Council;

/// <summary>
/// Selfie -> anime translation jobs (<see cref="TranslationVariant.CouncilSelfieToAnime"/>). <see cref="JobSpec.Model"/>
/// names a models/ folder holding the council (b2a_gen_&lt;i&gt;_&lt;step&gt;.pt members and config.yaml). The face is
/// aligned first when the job asks for it; outputs: output-&lt;k&gt;.png (K diverse candidates), input.png (what the
/// model saw), contact_sheet.png, face.json and translation.json (member and seeds, enough to reproduce the bytes).
/// With <see cref="TranslationJob.ReferenceFeatures"/> it also records KID of the outputs against the target domain
/// (kid_translation; "skipped" with the reason when the Inception weights are absent).
/// </summary>
public sealed class CouncilTranslationHandler(EngineDevice device, FacePreparation faces, FeatureNetworkStore features, MetricRegistry registry) : IJobHandler
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Converters = { new JsonStringEnumConverter() } };

    public bool CanHandle(JobSpec job) => job is TranslationJob { Variant: TranslationVariant.CouncilSelfieToAnime };

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (TranslationJob)context.Job;
        if (job.Outputs is < 1 or > 64) throw new PermanentJobException($"Outputs must be 1..64, not {job.Outputs}");
        // KID's unbiased estimate divides by m(m-1) for subsets of m images: one output cannot be measured.
        if (job.ReferenceFeatures is not null && job.Outputs < 2)
            throw new PermanentJobException($"{MetricRegistry.KidTranslation} needs at least 2 outputs, the job asks for {job.Outputs}");
        // The model is a council folder (b2a_gen_<i>_<step>.pt + config.yaml), or one member file inside such a folder.
        bool isFile = !job.Model.Path.EndsWith('/') && await context.Store.GetPropertiesAsync(job.Model.Path, cancellationToken) is not null;
        var folder = isFile ? new BlobRef(job.Model.Path[..(job.Model.Path.LastIndexOf('/') + 1)]) : job.Model;
        using var model = await context.Models.GetFolderModelAsync(folder,
            m => CouncilTranslator.Load(m.LocalPath, new CouncilLoadOptions { Device = torch.device(device.Name) }), cancellationToken);
        var council = model.Model;
        // The one preparation `pipeline translate` uses too: decode + EXIF orientation, face alignment and crop.
        var prepared = SelfieInput.Prepare(await context.ReadInputAsync(job.Input, cancellationToken), job.CropFace, faces);
        context.ReportProgress(0.2);

        var sw = Stopwatch.StartNew();
        byte[][] outputs;
        IReadOnlyList<RgbImage> translated;
        RgbImage resized;
        TranslationRecord record;
        lock (council) // modules are not re-entrant; one translation at a time per loaded council
        {
            using var scope = torch.NewDisposeScope();
            using var t = council.Translate(prepared.Image, 0,
                new TranslateOptions { NumStyles = job.Outputs, SeedBase = job.Seed, MemberSeed = unchecked((int)job.Seed), MaxBatch = context.MaxBatch });
            resized = t.Resized;
            record = t.Record;
            var images = t.Images();
            translated = images;
            outputs = images.Select(RgbPng.Encode).ToArray();
            var sheet = CouncilContactSheet.Render([[t.Resized, .. images]]);
            outputs = [.. outputs, RgbPng.Encode(sheet)];
        }
        var seconds = sw.Elapsed.TotalSeconds;
        for (int k = 0; k < job.Outputs; k++)
            await context.WriteOutputAsync($"output-{k}.png", outputs[k], "image/png", "output", cancellationToken);
        await context.WriteOutputAsync("contact_sheet.png", outputs[^1], "image/png", "contact-sheet", cancellationToken);
        await context.WriteOutputAsync("input.png", RgbPng.Encode(resized), "image/png", "model-input", cancellationToken);
        await context.WriteOutputAsync("face.json", FacePreparation.ToJson(prepared), "application/json", "face", cancellationToken);
        var memberFile = council.MemberFiles.Count > record.Member ? Path.GetFileName(council.MemberFiles[record.Member]) : null;
        await context.WriteOutputAsync("translation.json", JsonSerializer.SerializeToUtf8Bytes(new { record, memberFile, model = job.Model.Path }, Json), "application/json", "record", cancellationToken);
        var result = new Dictionary<string, double>
        {
            ["images"] = job.Outputs,
            ["member"] = record.Member,
            ["translate_seconds"] = seconds,
            ["images_per_second"] = job.Outputs / Math.Max(seconds, 1e-9),
        };
        if (job.ReferenceFeatures is { } reference)
        {
            var kid = await RecordKidAsync(context, job, reference, translated, cancellationToken);
            if (kid.Value is { } v) result[MetricRegistry.KidTranslation] = v;
            else context.Note = $"{MetricRegistry.KidTranslation} {MetricEvaluation.Explain(registry.Get(MetricRegistry.KidTranslation), kid, features)}";
        }
        return result;
    }

    /// <summary>KID of the outputs against the reference feature rows, through the metric registry (one JSON line in metrics/).</summary>
    private async Task<Pipeline.Metrics.MetricRecord> RecordKidAsync(JobContext context, TranslationJob job, BlobRef reference, IReadOnlyList<RgbImage> images, CancellationToken ct)
    {
        using var local = await context.ReadInputToFileAsync(reference, "reference-features.npz", ct);
        var mctx = new MetricContext
        {
            ModelId = job.Model.Path, Dataset = reference.Path, Device = torch.device(device.Name), Weights = features,
            ReferenceStats = local.Path, GeneratedImages = (_, batch) => AsPixels(images, batch), Batch = context.MaxBatch,
        };
        // A skipped or failed evaluation (no weights; features without rows or from another network) is a record with its
        // reason and a note on the job: the translation the user asked for is done and kept either way.
        return await MetricEvaluation.RunAsync(registry, MetricRegistry.KidTranslation, mctx, new BlobMetricSink(context.Store), ct);
    }

    /// <summary>
    /// The outputs (the pixels of the PNGs written) as uint8 NHWC batches, the decoded-image form the feature extractor
    /// takes (it applies pytorch-fid's ToTensor itself). Owned (and disposed) by the consumer.
    /// </summary>
    private static async IAsyncEnumerable<torch.Tensor> AsPixels(IReadOnlyList<RgbImage> images, int batch)
    {
        for (int i = 0; i < images.Count; i += batch)
        {
            yield return Stack(images.Skip(i).Take(batch));
            await Task.Yield();
        }
    }

    /// <summary>Synchronous, so its dispose scope never spans an await (a scope belongs to one thread).</summary>
    private static torch.Tensor Stack(IEnumerable<RgbImage> images)
    {
        using var scope = torch.NewDisposeScope();
        var stacked = torch.stack(images.Select(im => torch.tensor(im.Pixels, [im.Height, im.Width, 3], torch.ScalarType.Byte)).ToArray());
        return stacked.MoveToOuterDisposeScope();
    }
}
