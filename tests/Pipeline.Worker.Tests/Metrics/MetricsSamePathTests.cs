using System.Globalization;
using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Metrics;
using Pipeline.Worker.Cli;
using Pipeline.Worker.Cli.Metrics;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Metrics;
using Pipeline.Worker.Jobs.StyleGan2;
using Pipeline.Worker.Tests.StyleGan2;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.Metrics;

/// <summary>
/// A metrics job and `pipeline fid/kid` evaluate through one path (#20): the same images (a dataset batch in the store,
/// its PNGs in a folder) and the same reference file give the same value, bit for bit. The Inception network is a
/// seeded stand-in (initialised weights, digest check off): the test is of the path, not of Inception's numbers.
/// </summary>
public sealed class MetricsSamePathTests : IDisposable
{
    private readonly TinyStyleGan2Store _tiny = new("metrics-same-");

    public void Dispose() => _tiny.Dispose();

    private static double Printed(string output, string prefix)
    {
        var line = output.Trim().Split('\n').Last().Trim();
        Assert.StartsWith(prefix, line, StringComparison.Ordinal);
        return double.Parse(line[prefix.Length..], CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task FidAndKidOfADatasetBatchAreTheCliValuesOfItsFolder()
    {
        var ct = TestContext.Current.CancellationToken;
        // Stand-in Inception weights as a configured file.
        manual_seed(11);
        using (var inception = new FidInceptionV3()) SafeTensors.Save(Path.Combine(_tiny.Root, "inception.safetensors"), inception.state_dict(), null);
        var weights = new FeatureNetworkStore(new FeatureNetworkOptions
        {
            CacheDirectory = Path.Combine(_tiny.Root, "models"), Verify = false,
            Files = new Dictionary<string, string> { ["inception"] = Path.Combine(_tiny.Root, "inception.safetensors") },
        });

        // Five images as a dataset batch (an augmentation job) and as a folder of the same PNGs.
        var (model, _) = await _tiny.PutModelAsync(ct);
        var aug = new AugmentationBatchJob { Model = model, BatchId = "ds", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Sample, Count = 5, Seed = 3 };
        await new StyleGan2AugmentationHandler(new EngineDevice("cpu")).RunAsync(new JobContext(JobEnvelope.Create(aug, "test"), _tiny.Store, _tiny.Models, 1, maxBatch: 4), ct);
        var manifest = (await _tiny.Store.GetJsonAsync<DatasetManifest>(BlobLayout.DatasetManifest("ds"), ct))!;
        var folder = Directory.CreateDirectory(Path.Combine(_tiny.Root, "folder")).FullName;
        foreach (var item in manifest.Items)
            await File.WriteAllBytesAsync(Path.Combine(folder, Path.GetFileName(item.Path)), (await _tiny.Store.GetBytesAsync(item.Path, ct))!.Value.Bytes.ToArray(), ct);

        // The reference: statistics and feature rows of other images, in the store for the job and on disk for the CLI.
        var refPath = Path.Combine(_tiny.Root, "ref.npz");
        using (NewDisposeScope())
        {
            var feats = randn([7, 2048], generator: new TorchSharp.torch.Generator(2));
            FidStatsFile.Save(refPath, GaussianStats.Of(feats.to(ScalarType.Float64)), features: feats);
        }
        await _tiny.Store.PutBytesAsync("metrics/refs/ref.npz", await File.ReadAllBytesAsync(refPath, ct), cancellationToken: ct);

        var handler = new MetricsJobHandler(new EngineDevice("cpu"), weights, MetricRegistry.CreateDefault());
        async Task<double> JobValueAsync(string metric)
        {
            var job = new MetricsJob { Model = model, Metric = metric, DatasetBatchId = "ds", ReferenceStats = new BlobRef("metrics/refs/ref.npz") };
            var result = await handler.RunAsync(new JobContext(JobEnvelope.Create(job, "test"), _tiny.Store, _tiny.Models, 1, maxBatch: 4), ct);
            Assert.Equal(5, result["images"]);
            return result[metric];
        }

        double jobFid = await JobValueAsync("fid10k");
        var records = Path.Combine(_tiny.Root, "records");
        double cliFid = Printed(await MetricsCliTests.RunCapturingAsync(new FidCommand(weights), "fid", folder, refPath, "--batch", "4", "--device", "cpu", "--record", records), "FID: ");
        Assert.True(double.IsFinite(jobFid));
        Assert.Equal(jobFid, cliFid);
        // --record: one JSON line per evaluation, the record a job stores.
        var line = MetricRecord.FromJsonLine(File.ReadAllLines(Assert.Single(Directory.GetFiles(records, "*.jsonl", SearchOption.AllDirectories))).Single());
        Assert.Equal(("fid", "ok", cliFid, 5L), (line.Metric, line.Status, line.Value!.Value, line.Images));

        // KID with the job's default options (kid50k_full) and the CLI's defaults.
        double jobKid = await JobValueAsync("kid50k_full");
        double cliKid = Printed(await MetricsCliTests.RunCapturingAsync(new KidCommand(weights), "kid", folder, refPath, "--batch", "4", "--device", "cpu"), "KID: ");
        Assert.True(double.IsFinite(jobKid));
        Assert.Equal(jobKid, cliKid);
    }
}
