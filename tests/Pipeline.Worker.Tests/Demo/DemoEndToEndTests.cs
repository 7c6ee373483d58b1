using System.CommandLine;
using Pipeline.Infra.Contracts;
using Pipeline.Tests;
using Pipeline.Worker.Cli;
using Pipeline.Metrics;

namespace Pipeline.Worker.Tests.Demo;

/// <summary>The README's main job, run as a user would: uploads validated, jobs queued and run by the real worker host.</summary>
public sealed class DemoEndToEndTests : IDisposable
{
    private readonly string _out = Path.Combine(Path.GetTempPath(), "demo-e2e-" + Guid.NewGuid().ToString("N")[..8]);

    public void Dispose()
    {
        if (Directory.Exists(_out)) Directory.Delete(_out, recursive: true);
    }

    [Fact]
    public async Task DemoProducesResultsRejectionsDatasetsAndMetricRecords()
    {
        var root = new RootCommand();
        foreach (var c in CliCommands.Discover()) root.Subcommands.Add(c.Build());
        int exit = await root.Parse(["demo", "--out", _out, "--steps", "5", "--timeout-seconds", "600"]).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(0, exit);
        var data = Path.Combine(_out, "data");

        // Bad uploads are rejected with machine-readable codes and the upload itself is kept.
        var rejected = Directory.GetFiles(Path.Combine(data, "rejected"), "*.json", SearchOption.AllDirectories);
        var rejections = rejected.Select(f => JobJson.FromUtf8<Rejection>(File.ReadAllBytes(f))).ToList();
        Assert.Contains(RejectionReason.NotAnImage, rejections.Select(r => r.Reason));
        // Only the broken files: every synthetic selfie passes the face check, whether or not opencv-data is installed.
        Assert.Equal(["selfies/not-really.png", "selfies/truncated.png"], rejections.Select(r => r.Upload.Path["uploads/".Length..]).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(Path.Combine(data, "uploads", "selfies", "truncated.png")));

        // Every job reached a terminal state; projection and augmentation succeeded with their outputs.
        var statuses = Directory.GetFiles(Path.Combine(data, "status"), "*.json").Select(f => JobJson.FromUtf8<JobStatus>(File.ReadAllBytes(f))).ToList();
        Assert.All(statuses, s => Assert.True(s.State is JobState.Succeeded or JobState.Failed, $"{s.JobId} is {s.State}"));
        Assert.Contains(statuses, s => s.Kind == JobKind.Projection && s.State == JobState.Succeeded);
        Assert.Contains(statuses, s => s.Kind == JobKind.Augmentation && s.State == JobState.Succeeded);
        foreach (var s in statuses.Where(s => s.State == JobState.Succeeded))
        {
            var result = JobJson.FromUtf8<JobResult>(File.ReadAllBytes(Path.Combine(data, "results", s.JobId, "result.json")));
            Assert.All(result.Outputs, o => Assert.True(File.Exists(Path.Combine(data, o.Path)), o.Path));
        }
        Assert.True(File.Exists(Path.Combine(data, "datasets", "demo-samples", "manifest.json")));
        // The demo projects faces (the StyleGAN2 model's domain), and each projection's report carries the verdict inputs.
        var projections = statuses.Where(s => s.Kind == JobKind.Projection).Select(s => JobJson.FromUtf8<JobResult>(File.ReadAllBytes(Path.Combine(data, "results", s.JobId, "result.json")))).ToList();
        Assert.Equal(["uploads/project/dana.png", "uploads/project/erin.png"], projections.Select(r => ((ProjectionJob)r.Job).Input.Path).Order(StringComparer.Ordinal));
        foreach (var r in projections)
        {
            using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(data, "results", r.JobId, "projection.json")));
            Assert.True(report.RootElement.GetProperty("threshold").GetDouble() > 0);
        }
        var projection = statuses.First(s => s.Kind == JobKind.Projection && s.State == JobState.Succeeded);
        var projected = JobJson.FromUtf8<JobResult>(File.ReadAllBytes(Path.Combine(data, "results", projection.JobId, "result.json")));
        Assert.Equal(["face.json", "latent.npy", "latent.pt", "noises.safetensors", "projection.json", "reconstruction.png", "target.png"],
            projected.Outputs.Select(o => Path.GetFileName(o.Path)).Where(n => n != "result.json").Order(StringComparer.Ordinal));
        // With an encoder bundled next to the generator, every projection starts from it and its report says so.
        bool encoderBundled = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "models"), "stylegan2-*.encoder.pt").Length > 0;
        foreach (var p in statuses.Where(s => s.Kind == JobKind.Projection && s.State == JobState.Succeeded))
        {
            using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(data, "results", p.JobId, "projection.json")));
            Assert.Equal(encoderBundled ? "encoder" : "mean", report.RootElement.GetProperty("init").GetString());
            Assert.Equal(5, report.RootElement.GetProperty("steps").GetInt32());
        }

        // The label-map upload became a pix2pixHD job on the bundled model (models/pix2pixhd/), which wrote its image.
        var labelJobs = statuses.Where(s => s.State == JobState.Succeeded)
            .Select(s => JobJson.FromUtf8<JobResult>(File.ReadAllBytes(Path.Combine(data, "results", s.JobId, "result.json"))))
            .Where(r => r.Job is TranslationJob { Variant: TranslationVariant.Pix2PixHdLabelToImage }).ToList();
        var labelJob = Assert.Single(labelJobs);
        Assert.Equal(("uploads/labels/landscape.png", "models/pix2pixhd/"), (((TranslationJob)labelJob.Job).Input.Path, labelJob.Job.Model.Path));
        Assert.Contains(labelJob.Outputs, o => Path.GetFileName(o.Path) == "output-0.png");

        // The gallery's style-mixing grids: coarse and middle from the StyleGAN2 model, every file the manifest names present.
        foreach (var range in new[] { "coarse", "middle" })
        {
            var path = Path.Combine(data, "datasets", "demo-mixgrid", $"mix-{range}.json");
            Assert.True(File.Exists(path), path);
            var grid = System.Text.Json.JsonSerializer.Deserialize<MixManifest>(File.ReadAllText(path), MixManifest.Json)!;
            Assert.Equal((MixManifest.KindNameStyleGan2, "stylegan2", range), (grid.Kind, grid.Model.Family, grid.Range.Name));
            Assert.Equal(grid.Rows * grid.Columns, grid.Cells.Count);
            Assert.All(grid.Cells.Select(c => c.Image).Append(grid.Grid.Image), rel => Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(path)!, rel)), rel));
        }

        // The v1 gallery from the bundled StyleGAN v1 model: a paintings collection and a mixing batch through the v1
        // handler, and a coarse mixing grid in its own batch.
        Assert.True(File.Exists(Path.Combine(TestPaths.RepoRoot, "models", "stylegan1-synthpaintings-32.pt")), "the StyleGAN v1 model is bundled");
        foreach (var batch in new[] { "demo-v1-paintings", "demo-v1-mixing" })
        {
            var manifest = JobJson.FromUtf8<DatasetManifest>(File.ReadAllBytes(Path.Combine(data, "datasets", batch, "manifest.json")));
            Assert.Equal(StyleGanFamily.StyleGan1, manifest.Job.Family);
            Assert.NotEmpty(manifest.Items);
        }
        {
            var path = Path.Combine(data, "datasets", "demo-v1-mixgrid", "mix-coarse.json");
            Assert.True(File.Exists(path), path);
            var grid = System.Text.Json.JsonSerializer.Deserialize<MixManifest>(File.ReadAllText(path), MixManifest.Json)!;
            Assert.Equal((MixManifest.KindName, "stylegan1"), (grid.Kind, grid.Model.Family));
            Assert.All(grid.Cells.Select(c => c.Image).Append(grid.Grid.Image), rel => Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(path)!, rel)), rel));
        }

        // PPL cannot run without the LPIPS weights: its record says skipped, with no value.
        var ppl = Directory.GetFiles(Path.Combine(data, "metrics", "ppl_wend"), "*.jsonl", SearchOption.AllDirectories);
        var record = JobJson.FromUtf8<MetricRecord>(File.ReadAllBytes(Assert.Single(ppl)));
        var metricsJob = Assert.Single(statuses, s => s.Kind == JobKind.Metrics);
        var metricsResult = JobJson.FromUtf8<JobResult>(File.ReadAllBytes(Path.Combine(data, "results", metricsJob.JobId, "result.json")));
        if (record.Status == "skipped")
        {
            Assert.Null(record.Value);
            // The job says what it did not do, not a bare "Succeeded, 0 files".
            Assert.StartsWith("skipped: no VGG16 weights", metricsResult.Note, StringComparison.Ordinal);
            Assert.Equal(metricsResult.Note, metricsJob.Message);
        }
        else
        {
            Assert.Equal("ok", record.Status);
            Assert.Null(metricsResult.Note);
        }
    }
}
