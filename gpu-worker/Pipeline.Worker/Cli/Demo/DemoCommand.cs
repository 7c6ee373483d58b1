using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Engine.Metrics;
using Pipeline.Functions;
using Pipeline.Imaging.Faces;
using Pipeline.Imaging.Synthetic;
using Pipeline.Infra;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Engine.StyleGan1;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Operations.Mixing;
using Spectre.Console;

namespace Pipeline.Worker.Cli.Demo;

/// <summary>
/// `pipeline demo`: the whole pipeline on one machine, offline. Uploads (synthetic selfies, faces to project,
/// broken files) go through the ValidateUpload function class itself (composed as the Functions app composes it, with
/// the demo's store and queue), accepted ones become jobs on an in-process queue, the timer's augmentation batches and a metrics job are added, and the real worker host runs
/// them all. Everything lands in a local folder laid out like the blob containers.
/// </summary>
public sealed class DemoCommand : ICliCommand
{
    private const string Marker = ".pipeline-demo";
    // Fewer attempts than production (QueueDefaults.MaxDeliveryCount): the demo's broken jobs should fail fast.
    private const int DemoMaxDeliveryCount = 3;

    public Command Build()
    {
        var output = new Option<string>("--out") { Description = "Folder for the demo's storage (recreated on each run).", DefaultValueFactory = _ => Path.Combine(".pipeline", "demo") };
        var steps = new Option<int?>("--steps") { Description = "Projection steps (default: the worker's, 100 from the bundled encoder's W+, 1000 from the mean latent without one)." };
        var timeout = new Option<int>("--timeout-seconds") { Description = "Give up waiting for the worker after this long.", DefaultValueFactory = _ => 900 };
        var blob = new Option<string?>("--storage-connection-string") { Description = "Run against Azure Blob storage (e.g. Azurite) instead of the local folder." };
        var bus = new Option<string?>("--servicebus-connection-string") { Description = "Run against Service Bus through the Azure SDK instead of the in-process queue: a namespace's SAS connection string, or an emulator's (...;UseDevelopmentEmulator=true)." };
        var cmd = new Command("demo", "Run the pipeline end to end on this machine: validate uploads, enqueue jobs, run the worker, write results, rejections and metrics.") { output, steps, timeout, blob, bus };
        cmd.SetAction((parse, ct) => RunAsync(parse.GetValue(output)!, parse.GetValue(steps), TimeSpan.FromSeconds(parse.GetValue(timeout)), parse.GetValue(blob), parse.GetValue(bus), ct));
        return cmd;
    }

    private static async Task<int> RunAsync(string outDir, int? steps, TimeSpan timeout, string? blobConnection, string? busConnection, CancellationToken ct)
    {
        var root = Path.GetFullPath(outDir);
        if (Directory.Exists(root))
        {
            if (!File.Exists(Path.Combine(root, Marker)) && Directory.EnumerateFileSystemEntries(root).Any())
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {root} exists and was not made by the demo; choose another --out");
                return 2;
            }
            Directory.Delete(root, recursive: true);
        }
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, Marker), "created by `pipeline demo`; deleted and recreated on each run\n", ct);
        var dataRoot = Path.Combine(root, "data");
        var config = new Dictionary<string, string?>
        {
            ["Pipeline:Storage:Kind"] = "local",
            ["Pipeline:Storage:Root"] = dataRoot,
            ["Pipeline:Queue:Kind"] = "inprocess",
            ["Pipeline:Queue:QueueName"] = "demo-jobs-" + Guid.NewGuid().ToString("N")[..8],
            ["Pipeline:Device"] = "cpu",
            ["Pipeline:ModelCache"] = Path.Combine(root, "model-cache"),
            ["Pipeline:MaxDeliveryCount"] = DemoMaxDeliveryCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Pipeline:MaxBatch"] = "8",
            // The worker uses a landmark model only when told where it is; the demo uses Debian's when installed.
            ["Pipeline:Faces:ShapePredictorPath"] = File.Exists(ShapePredictor.DebianShapePredictor68) ? ShapePredictor.DebianShapePredictor68 : null,
            // The demo prints its own progress; the host's informational logs would drown it.
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (blobConnection is not null)
        {
            config["Pipeline:Storage:Kind"] = "azure";
            config["Pipeline:Storage:ConnectionString"] = blobConnection;
            config["Pipeline:Storage:ContainerPrefix"] = "demo" + Guid.NewGuid().ToString("N")[..6];
        }
        if (busConnection is not null)
        {
            config["Pipeline:Queue:Kind"] = "servicebus";
            config["Pipeline:Queue:ConnectionString"] = busConnection;
        }
        // The worker host is the one composition root: store and queue come from it (bound from the settings above), and
        // the upload function below is handed the same two objects, so both sides share one in-process queue.
        var args = config.Select(kv => $"--{kv.Key}={kv.Value}").ToArray();
        using var host = WorkerHost.CreateBuilder(args).Build();
        var store = host.Services.GetRequiredService<IBlobStore>();
        var queue = host.Services.GetRequiredService<IJobQueue>();
        var sw = Stopwatch.StartNew();

        AnsiConsole.MarkupLine("[bold]0. Optional parts[/] (none is needed; each changes what the demo can show)");
        foreach (var part in DemoOptionalParts.Find(Hosting.FeatureNetworkLocation.Store()))
        {
            if (part.FoundAt is not null) AnsiConsole.MarkupLineInterpolated($"   [green]found[/]   {part.Name}: {part.FoundAt}");
            else AnsiConsole.MarkupLineInterpolated($"   [yellow]missing[/] {part.Name} ({part.HowToGet}): {part.IfMissing}");
        }

        AnsiConsole.MarkupLine("[bold]1. Models[/]");
        var models = await DemoModels.PublishAsync(store, root, ct);
        AnsiConsole.WriteLine("   " + models.Note);

        AnsiConsole.MarkupLine("[bold]2. Uploads, through the ValidateUpload function[/]");
        await using var functions = FunctionServices(store, queue, models);
        var validateUpload = functions.GetRequiredService<ValidateUpload>();
        var publisher = functions.GetRequiredService<JobPublisher>();
        var published = new List<JobEnvelope>();
        foreach (var upload in DemoUploads(models.Council is not null, models.Pix2PixHD is not null, steps))
        {
            // The blob lands in uploads/ first (Event Grid fires on BlobCreated), then the trigger's path runs.
            var props = await store.PutBytesAsync(BlobLayout.Upload(upload.Name), upload.Bytes, new BlobPutOptions { Metadata = upload.Metadata }, ct);
            var result = await validateUpload.ValidateAsync(new UploadEvent(upload.Name, upload.Bytes, props.ETag, upload.Bytes.Length, upload.Metadata), ct);
            if (!result.Verdict.Accepted)
            {
                AnsiConsole.MarkupLineInterpolated($"   [yellow]rejected[/] {upload.Name}: {result.Verdict.Code} ({result.Verdict.Message})");
                continue;
            }
            foreach (var job in result.Published)
            {
                published.Add(job.Job);
                AnsiConsole.MarkupLineInterpolated($"   [green]accepted[/] {upload.Name} -> {job.Job.Kind} job");
            }
        }

        AnsiConsole.MarkupLine("[bold]3. Scheduled augmentation batches and a metrics job[/]");
        var scheduled = ScheduledJobs(models.StyleGan2, models.StyleGan1).Select(job => JobEnvelope.Create(job, "demo-timer")).ToList();
        await publisher.PublishManyAsync(scheduled, ct); // one batched send, as the timer function does
        foreach (var env in scheduled)
        {
            published.Add(env);
            AnsiConsole.MarkupLineInterpolated($"   queued {env.Kind} {(env.Job as AugmentationBatchJob)?.Operation.ToString() ?? (env.Job as MetricsJob)?.Metric}");
        }

        AnsiConsole.MarkupLineInterpolated($"[bold]4. Worker[/] (CPU, {published.Count} jobs)");
        await host.StartAsync(ct);
        var deadline = DateTime.UtcNow + timeout;
        var states = new Dictionary<string, JobStatus?>();
        // CliProgress: a live bar on a terminal, a plain line every few seconds in a log or a pipe.
        await CliProgress.RunAsync(async add =>
        {
            var task = add("worker jobs finished", published.Count);
            while (DateTime.UtcNow < deadline && !ct.IsCancellationRequested)
            {
                foreach (var env in published)
                    states[env.JobId] = await store.GetJsonAsync<JobStatus>(BlobLayout.StatusDocument(env.JobId), ct);
                int done = states.Values.Count(s => s?.State is JobState.Succeeded or JobState.Failed);
                int running = states.Values.Count(s => s?.State is JobState.Running);
                task.Set(done, $"{running} running");
                if (done == published.Count) break;
                await Task.Delay(TimeSpan.FromSeconds(2), ct);
            }
        });
        await host.StopAsync(CancellationToken.None);

        AnsiConsole.MarkupLine("[bold]5. Style-mixing grids[/] (pipeline mix --publish " + MixBatchId + ")");
        var grids = await PublishMixGridsAsync(store, models.StyleGan2File, Path.Combine(root, "mixgrid"), MixBatchId, [MixingRange.Coarse, MixingRange.Middle], ct);
        if (models.StyleGan1File is { } sg1)
            grids.AddRange(await PublishMixGridsAsync(store, sg1, Path.Combine(root, "mixgrid-v1"), MixBatchIdV1, [MixingRange.Coarse], ct));

        AnsiConsole.MarkupLine("[bold]6. Results[/]");
        // Each job's document path in full (it holds the job id): a reader copies it to open the result (a cut-off id is no use).
        var table = new Table().AddColumns("job's result (or status) document", "kind", "state", "outputs / note");
        foreach (var env in published)
        {
            var s = states.GetValueOrDefault(env.JobId);
            var (resultPath, detail) = await DemoResults.DescribeAsync(store, env, s, ct);
            table.AddRow(Markup.Escape(resultPath ?? BlobLayout.StatusDocument(env.JobId)), env.Kind.ToString(), s?.State.ToString() ?? "unknown", Markup.Escape(detail));
        }
        AnsiConsole.Write(table);
        await PrintProjectionsAsync(store, published, ct);
        await PrintLabelTranslationsAsync(store, published, ct);
        var where = blobConnection is null ? dataRoot : $"the storage account, containers prefixed '{config["Pipeline:Storage:ContainerPrefix"]}'";
        AnsiConsole.MarkupLineInterpolated($"Everything is under [bold]{where}[/]: uploads/, results/<jobId>/, rejected/, status/, datasets/<batchId>/ (with manifest.json), metrics/<metric>/*.jsonl.");
        foreach (var g in grids)
            AnsiConsole.MarkupLineInterpolated($"Style-mixing grid for the gallery: {g}");
        if (blobConnection is null)
            AnsiConsole.MarkupLineInterpolated($"Dashboard and gallery of these results: [bold]dotnet run --project functions/Pipeline.Functions -c Release -- --local --data {dataRoot}[/] (prints the link).");
        bool allFinished = states.Count == published.Count && states.Values.All(s => s?.State is JobState.Succeeded or JobState.Failed);
        return allFinished ? 0 : 1;
    }

    /// <summary>
    /// The Functions app's registrations (<see cref="FunctionsApp.AddPipelineFunctions"/>) over the demo's store and its
    /// one queue (every job kind goes to the queue the demo's worker reads), with the demo's models as the upload jobs' models.
    /// </summary>
    private static ServiceProvider FunctionServices(IBlobStore store, IJobQueue queue, DemoModels.Published models)
    {
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Pipeline:Uploads:ProjectionModel"] = models.StyleGan2,
            ["Pipeline:Uploads:SelfieModel"] = models.Council ?? "models/no-council-bundled/",
            ["Pipeline:Uploads:LabelModel"] = models.Pix2PixHD ?? "models/no-pix2pixhd-bundled/",
        }).Build();
        var services = new ServiceCollection().AddLogging().AddPipelineFunctions(settings);
        services.AddSingleton(store);
        services.AddSingleton<Func<string, IJobQueue>>(_ => _ => queue);
        return services.BuildServiceProvider();
    }

    /// <summary>Where the demo publishes its StyleGAN2 mixing grids (the gallery lists datasets/*/mix-*.json).</summary>
    public const string MixBatchId = "demo-mixgrid";

    /// <summary>Where the demo publishes the bundled StyleGAN v1 model's mixing grid (a batch of its own, so the gallery shows it apart).</summary>
    public const string MixBatchIdV1 = "demo-v1-mixgrid";

    /// <summary>
    /// 3x3 grids of a model (StyleGAN2 or v1, detected from the file) at the given ranges, through `pipeline mix
    /// --publish`'s code path (images first, manifest last). Rendered in-process: a few dozen small images, seconds on a CPU.
    /// </summary>
    private static async Task<List<string>> PublishMixGridsAsync(IBlobStore store, string model, string scratch, string batchId, MixingRange[] ranges, CancellationToken ct)
    {
        var blobs = new List<string>();
        foreach (var range in ranges)
        {
            var request = new MixRequest
            {
                ModelPath = model,
                OutputDirectory = scratch,
                RowSeeds = [0, 1, 2],
                ColumnSeeds = [3, 4, 5],
                Range = range,
                Device = "cpu",
                BatchSize = 9,
            };
            MixManifest manifest;
            string path;
            try { (manifest, path) = await MixGridRenderer.WriteAsync(request, null, ct); }
            catch (ArgumentException e)
            {
                // Only a generator too small for the range gets here (e.g. middle needs 16 px): say so, keep the demo going.
                AnsiConsole.MarkupLineInterpolated($"   [yellow]skipped[/] {range.Name} grid: {e.Message}");
                continue;
            }
            var blob = await MixGridPublisher.PublishAsync(store, batchId, manifest, path, ct);
            AnsiConsole.MarkupLineInterpolated($"   published {blob} ({manifest.Rows}x{manifest.Columns}, {manifest.Resolution} px, {range.Name} = {What(manifest.Range)})");
            blobs.Add(blob);
        }
        return blobs;
    }

    private sealed record DemoUpload(string Name, byte[] Bytes, Dictionary<string, string>? Metadata = null);

    /// <summary>The demo's label-map upload: a synthetic landscape's map (ids 0-5), at the upload minimum side of 128 px.</summary>
    internal static byte[] DemoLabelMap() => SyntheticLandscapes.LabelPng(SyntheticLandscapes.Draw(DemoLandscapeSeed, 128, 128));

    // Beyond the bundled model's 1000 training landscapes (seeds 0-999), so the demo shows an unseen map.
    private const int DemoLandscapeSeed = 5001;

    private static IEnumerable<DemoUpload> DemoUploads(bool withCouncil, bool withLabels, int? steps)
    {
        // Every synthetic selfie passes the Haar face check (SyntheticSelfieFaceCheckTests), so with or without
        // opencv-data the same uploads are accepted; only the broken files below are rejected.
        if (withCouncil)
        {
            yield return new("selfies/alice.png", SyntheticFaces.DrawPng(2, FaceStyle.PhotoLike, 256), new() { ["outputs"] = "4", ["seed"] = "7" });
            yield return new("selfies/bob.png", SyntheticFaces.DrawPng(5, FaceStyle.PhotoLike, 256), new() { ["outputs"] = "4", ["seed"] = "8" });
        }
        yield return new("selfies/carol.png", SyntheticFaces.DrawPng(0, FaceStyle.PhotoLike, 256));
        // Projection targets are faces, like the StyleGAN2 model's training data (a landscape in a face model only
        // shows that it cannot be reached), framed as that data is, hence no alignment. No init: the worker starts
        // from the model's encoder when it has one (and says so in projection.json).
        var meta = new Dictionary<string, string> { ["job"] = "project", ["align"] = "false", ["seed"] = "1" };
        if (steps is { } n) meta["steps"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        yield return new("project/dana.png", SyntheticFaces.DrawPng(11, FaceStyle.PhotoLike, 256), meta);
        yield return new("project/erin.png", SyntheticFaces.DrawPng(12, FaceStyle.PhotoLike, 256), new(meta) { ["seed"] = "2" });
        // A labels/ upload becomes a pix2pixHD job (UploadJobPlanner): label map in, photo out.
        if (withLabels) yield return new("labels/landscape.png", DemoLabelMap(), new() { ["seed"] = "1" });
        var png = SyntheticFaces.DrawPng(3, FaceStyle.PhotoLike, 256);
        yield return new("selfies/truncated.png", png[..(png.Length / 2)]);
        yield return new("selfies/not-really.png", "<html><body>not an image</body></html>"u8.ToArray());
    }

    /// <summary>One line per projection: where it started (encoder or mean latent), how many steps, and the MSE reached.</summary>
    private static async Task PrintProjectionsAsync(IBlobStore store, List<JobEnvelope> published, CancellationToken ct)
    {
        foreach (var env in published.Where(e => e.Job is ProjectionJob))
        {
            if (await store.GetBytesAsync(BlobLayout.Result(env.JobId, "projection.json"), ct) is not { } blob) continue;
            var report = System.Text.Json.JsonDocument.Parse(blob.Bytes).RootElement;
            string init = report.TryGetProperty("init", out var i) ? i.GetString() ?? "?" : "?";
            AnsiConsole.MarkupLineInterpolated($"   projection of {Path.GetFileName(((ProjectionJob)env.Job).Input.Path)}: started from the {(init == "encoder" ? "encoder's W+ prediction" : "mean latent")}, {report.GetProperty("steps").GetInt32()} steps, MSE {report.GetProperty("mse").GetDouble():F4}");
        }
    }

    /// <summary>What a mixing range takes from the column source: W+ rows (StyleGAN2) or the synthesis levels' resolutions (v1).</summary>
    private static string What(MixRangeInfo range) => range.LatentRows is { Count: > 0 } rows
        ? $"latent rows {string.Join(",", rows)}"
        : $"styles of the {string.Join(", ", range.Resolutions)} px levels";

    /// <summary>One line per label-map job: the map it read and the image it wrote (with its size and the classes used).</summary>
    private static async Task PrintLabelTranslationsAsync(IBlobStore store, List<JobEnvelope> published, CancellationToken ct)
    {
        foreach (var env in published.Where(e => e.Job is TranslationJob { Variant: TranslationVariant.Pix2PixHdLabelToImage }))
        {
            var result = await store.GetJsonAsync<JobResult>(BlobLayout.ResultDocument(env.JobId), ct);
            if (result is null) continue;
            var image = BlobLayout.Result(env.JobId, "output-0.png");
            string size = result.Metrics is { } m && m.TryGetValue("width", out var w) && m.TryGetValue("height", out var h) ? $"{w}x{h}" : "?";
            string classes = result.Metrics is { } m2 && m2.TryGetValue("classes_used", out var c) ? $", {c} classes in the map" : "";
            AnsiConsole.MarkupLineInterpolated($"   label map {((TranslationJob)env.Job).Input.Path} -> pix2pixHD image {image} ({size}{classes})");
        }
    }

    private static IEnumerable<JobSpec> ScheduledJobs(string model, string? styleGan1)
    {
        var m = new BlobRef(model);
        yield return new AugmentationBatchJob { Model = m, BatchId = "demo-samples", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Sample, Count = 8, Seed = 100 };
        yield return new AugmentationBatchJob { Model = m, BatchId = "demo-truncated", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Truncation, Truncation = 0.7, Count = 8, Seed = 100, TruncationMeanSamples = 1024 };
        yield return new AugmentationBatchJob { Model = m, BatchId = "demo-mixing", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.StyleMixing, Count = 4, Seed = 200, Truncation = 0.8, TruncationMeanSamples = 1024 };
        yield return new AugmentationBatchJob { Model = m, BatchId = "demo-panorama", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.SoatPanorama, Count = 1, Seed = 300, PanoramaLatents = 4, Truncation = 0.7, TruncationMeanSamples = 1024 };
        yield return new MetricsJob { Model = m, Metric = "ppl_wend", Samples = 64, Seed = 0 };
        if (styleGan1 is null) yield break;
        // The v1 gallery: a collection of generated paintings and a row of style-mixed ones (each mixes two seeds at a
        // random crossover level), both through the StyleGAN v1 augmentation handler.
        var v1 = new BlobRef(styleGan1);
        yield return new AugmentationBatchJob { Model = v1, BatchId = "demo-v1-paintings", Family = StyleGanFamily.StyleGan1, Operation = AugmentationOp.Sample, Count = 12, Seed = 100 };
        yield return new AugmentationBatchJob { Model = v1, BatchId = "demo-v1-mixing", Family = StyleGanFamily.StyleGan1, Operation = AugmentationOp.StyleMixing, Count = 6, Seed = 200, Truncation = 0.8, TruncationMeanSamples = 1024 };
    }
}
