using Pipeline.Engine;
using System.Diagnostics;
using System.Globalization;
using Pipeline.Engine.StyleGan1;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs.Shared;
using Pipeline.Worker.Operations.Imaging;
using Pipeline.Worker.Operations.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.StyleGan1;

/// <summary>
/// Augmentation batches from StyleGAN v1 checkpoints (Family = StyleGan1): Sample, Truncation and StyleMixing.
/// Image i uses seed Seed + i (and, when mixing, Seed + Count + i for the second style); with BaseSeed its first
/// latent comes from (or near) the base seed's (<see cref="MoreLikeThis"/>) while its noise stays seeded by Seed + i.
/// Writes datasets/&lt;batchId&gt;/&lt;i:D5&gt;.png, thumbs/&lt;i:D5&gt;.jpg, and last datasets/&lt;batchId&gt;/manifest.json
/// with each image's settings.
/// </summary>
public sealed class StyleGan1AugmentationHandler(EngineDevice engineDevice) : IJobHandler
{
    public bool CanHandle(JobSpec job) => job is AugmentationBatchJob { Family: StyleGanFamily.StyleGan1 };

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (AugmentationBatchJob)context.Job;
        if (job.Operation is AugmentationOp.SoatPanorama or AugmentationOp.SoatBlend)
            throw new PermanentJobException($"{job.Operation} is a StyleGAN2 (SOAT) operation; StyleGAN v1 batches support Sample, Truncation and StyleMixing");
        if (JobLimits.CheckAugmentationCount(job.Count) is { } bad) throw new PermanentJobException(bad);
        MoreLikeThis.Validate(job);
        var device = torch.device(engineDevice.Name);
        using var model = await context.Models.GetAsync(job.Model, f => LoadGenerator(f.LocalPath, device), cancellationToken);
        var g = model.Model;

        int step;
        try { step = job.Size is { } size ? StyleGan1Levels.StepOf(size, g.Config.MaxStep) : StyleMixingGrid.DetectTrainedStep(g); }
        catch (ArgumentException e) { throw new PermanentJobException(e.Message, e); }
        double psi = job.Operation == AugmentationOp.Sample ? 1 : job.Truncation;
        var seeds = Enumerable.Range(0, job.Count).Select(i => job.Seed + i).ToArray();
        long[]? mixSeeds = null;
        int[]? crossovers = null;
        if (job.Operation == AugmentationOp.StyleMixing)
        {
            if (step < 1) throw new PermanentJobException("style mixing needs at least two levels (size >= 8)");
            if (job.MixingCrossover is { } c && (c < 1 || c > step))
                throw new PermanentJobException($"MixingCrossover {c} is not a level of this {4 << step} px generator: use 1..{step} (level i is 4*2^i px)");
            mixSeeds = seeds.Select(s => s + job.Count).ToArray();
            // Random crossover per image, reproducible from its seed (the reference draws it from Python's random).
            crossovers = seeds.Select(s => job.MixingCrossover ?? new Random(unchecked((int)s)).Next(1, step + 1)).ToArray();
        }

        Tensor? mean = null;
        if (psi != 1)
        {
            using var gen = new torch.Generator(0);
            int chunks = Math.Max(1, (job.TruncationMeanSamples + 1023) / 1024);
            mean = g.GetMeanStyle(gen, chunks, 1024, device);
        }
        // Only "more like this" needs explicit latents; otherwise the sampler derives z from the seeds as before.
        using var latents = job.BaseSeed is null ? null : MoreLikeThis.FirstLatents(job, seeds, s => SeededLatents.Z(s, g.Config.CodeDim));
        var sw = Stopwatch.StartNew();
        using var images = StyleGan1Sampler.Sample(g, new StyleGan1SampleOptions
        {
            Seeds = seeds,
            Step = step,
            Truncation = psi,
            MeanStyle = mean,
            BatchSize = context.MaxBatch,
            MixSeeds = mixSeeds,
            Crossovers = crossovers,
            Latents = latents,
        }, new Inline(p => context.ReportProgress(0.9 * p.Done / p.Total)), cancellationToken);
        var seconds = sw.Elapsed.TotalSeconds;
        mean?.Dispose();

        var items = new List<DatasetItem>();
        for (int i = 0; i < job.Count; i++)
        {
            var name = $"{i:D5}.png";
            var path = BlobLayout.DatasetItem(job.BatchId, name);
            var png = GeneratorImages.EncodePng(images[i]);
            await context.WriteAsync(path, png, "image/png", "dataset-item", cancellationToken);
            var thumb = Thumbnails.PathOf(job.BatchId, i);
            await context.WriteAsync(thumb, Thumbnails.FromEncoded(png), "image/jpeg", "thumbnail", cancellationToken);
            var attributes = new Dictionary<string, string>
            {
                ["family"] = "stylegan1",
                ["operation"] = job.Operation.ToString(),
                ["truncation"] = psi.ToString(CultureInfo.InvariantCulture),
                ["resolution"] = (4 << step).ToString(CultureInfo.InvariantCulture),
                ["noiseSeed"] = "image seed",
            };
            MoreLikeThis.Annotate(job, attributes);
            if (mixSeeds is not null)
            {
                attributes["mixSeed"] = mixSeeds[i].ToString(CultureInfo.InvariantCulture);
                attributes["mixFromLevel"] = crossovers![i].ToString(CultureInfo.InvariantCulture);
            }
            items.Add(new DatasetItem(path, seeds[i], Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(png)), attributes, thumb));
            context.ReportProgress(0.9 + 0.1 * (i + 1) / job.Count);
        }
        // The manifest is the batch's commit marker: readers (gallery, FID) only see items and thumbnails listed in it.
        var manifest = new DatasetManifest { BatchId = job.BatchId, JobId = context.JobId, Job = job, Items = items, CreatedAt = DateTimeOffset.UtcNow };
        await context.WriteAsync(BlobLayout.DatasetManifest(job.BatchId), JobJson.ToUtf8(manifest), "application/json", "manifest", cancellationToken);
        return new Dictionary<string, double>
        {
            ["images"] = job.Count,
            ["images_per_second"] = job.Count / Math.Max(seconds, 1e-9),
            ["resolution"] = 4 << step,
        };
    }

    /// <summary>The generator only: the checkpoint's other state_dicts (discriminator, optimisers) are freed at once.</summary>
    private static StyledGenerator LoadGenerator(string path, Device device)
    {
        using var checkpoint = StyleGan1Checkpoint.Load(path);
        return checkpoint.CreateGenerator(device: device);
    }

    private sealed class Inline(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
