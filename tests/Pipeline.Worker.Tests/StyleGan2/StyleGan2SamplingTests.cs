using Pipeline.Engine.IO;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Cli.StyleGan2;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.StyleGan2;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>
/// `pipeline generate` and an augmentation job run one sampling operation (#20): the same seeds and settings give
/// byte-identical PNGs from both, whatever the checkpoint's layout (the CLI reads a copy that carries a latent_avg,
/// which the one truncation rule does not use).
/// </summary>
public sealed class StyleGan2SamplingTests : IDisposable
{
    private readonly TinyStyleGan2Store _tiny = new("sg2-sampling-");

    public void Dispose() => _tiny.Dispose();

    /// <summary>Runs the job and returns its items' PNG bytes in order.</summary>
    private async Task<List<byte[]>> JobPngsAsync(AugmentationBatchJob job, CancellationToken ct)
    {
        var context = new JobContext(JobEnvelope.Create(job, "test"), _tiny.Store, _tiny.Models, 1, maxBatch: 4);
        await new StyleGan2AugmentationHandler(new EngineDevice("cpu")).RunAsync(context, ct);
        var manifest = await _tiny.Store.GetJsonAsync<DatasetManifest>(BlobLayout.DatasetManifest(job.BatchId), ct);
        var pngs = new List<byte[]>();
        foreach (var item in manifest!.Items) pngs.Add((await _tiny.Store.GetBytesAsync(item.Path, ct))!.Value.Bytes.ToArray());
        return pngs;
    }

    /// <summary>Runs `pipeline generate` on a copy of the model with a latent_avg and returns seed{N}.png per seed.</summary>
    private List<byte[]> CliPngs(string name, long[] seeds, params string[] args)
    {
        var ckpt = Path.Combine(_tiny.Root, "with-latent-avg.pt");
        if (!File.Exists(ckpt))
        {
            var tree = (OrderedDictionary<string, object?>)TorchFile.Load(Path.Combine(_tiny.Root, "a.pt"))!;
            tree["latent_avg"] = ones(8);
            TorchFile.Save(ckpt, tree);
        }
        var outDir = Path.Combine(_tiny.Root, name);
        string[] all = ["--ckpt", ckpt, "--seeds", string.Join(',', seeds), "--out", outDir, "--device", "cpu", "--batch", "4", .. args];
        Assert.Equal(0, new GenerateCommand().Build().Parse(all).Invoke());
        return seeds.Select(s => File.ReadAllBytes(Path.Combine(outDir, $"seed{s:D4}.png"))).ToList();
    }

    [Fact]
    public async Task TruncatedSamplesAreByteIdenticalFromGenerateAndTheJob()
    {
        var ct = TestContext.Current.CancellationToken;
        var (model, _) = await _tiny.PutModelAsync(ct);
        var job = new AugmentationBatchJob
        {
            Model = model, BatchId = "trunc", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.Truncation,
            Count = 5, Seed = 20, Truncation = 0.6, TruncationMeanSamples = 256,
        };
        var fromJob = await JobPngsAsync(job, ct);
        var fromCli = CliPngs("trunc", [20, 21, 22, 23, 24], "-t", "0.6", "--truncation-mean", "256");
        Assert.Equal(5, fromJob.Count);
        for (int i = 0; i < 5; i++) Assert.Equal(fromJob[i], fromCli[i]);
        // Truncation changed the images (the comparison is not of untruncated samples).
        var untruncated = CliPngs("plain", [20]);
        Assert.NotEqual(fromCli[0], untruncated[0]);
    }

    [Fact]
    public async Task MixedSamplesAreByteIdenticalFromGenerateAndTheJob()
    {
        var ct = TestContext.Current.CancellationToken;
        var (model, _) = await _tiny.PutModelAsync(ct);
        // Job: image i mixes with seed Seed + Count + i; the crossover is drawn from each image's seed.
        var job = new AugmentationBatchJob
        {
            Model = model, BatchId = "mix", Family = StyleGanFamily.StyleGan2, Operation = AugmentationOp.StyleMixing,
            Count = 3, Seed = 7, Truncation = 0.8, TruncationMeanSamples = 64,
        };
        var fromJob = await JobPngsAsync(job, ct);
        var fromCli = CliPngs("mix", [7, 8, 9], "-t", "0.8", "--truncation-mean", "64", "--mix-seeds", "10-12");
        for (int i = 0; i < 3; i++) Assert.Equal(fromJob[i], fromCli[i]);
        var fixedCrossover = await JobPngsAsync(job with { BatchId = "mix3", MixingCrossover = 3 }, ct);
        var cliCrossover = CliPngs("mix3", [7, 8, 9], "-t", "0.8", "--truncation-mean", "64", "--mix-seeds", "10-12", "--inject-index", "3");
        for (int i = 0; i < 3; i++) Assert.Equal(fixedCrossover[i], cliCrossover[i]);
    }

    [Fact]
    public async Task AnOutOfRangeCrossoverIsAnInputError()
    {
        // 16 px: n_latent 6, so crossovers 1..5.
        await _tiny.PutModelAsync(TestContext.Current.CancellationToken);
        var ckpt = Path.Combine(_tiny.Root, "a.pt");
        Assert.Equal(1, new GenerateCommand().Build().Parse(["--ckpt", ckpt, "--seeds", "1", "--mix-seeds", "2", "--inject-index", "6", "--out", Path.Combine(_tiny.Root, "bad"), "--device", "cpu"]).Invoke());
    }
}
