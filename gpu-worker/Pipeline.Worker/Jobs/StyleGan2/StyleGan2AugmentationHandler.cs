using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Cli.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.StyleGan2;

/// <summary>
/// Augmentation batches from StyleGAN2 checkpoints: Sample, Truncation, StyleMixing, SoatPanorama and SoatBlend (two
/// models). Item i uses seed Seed + i (mixing: Seed + Count + i for the second latent). Writes
/// datasets/&lt;batchId&gt;/&lt;i:D5&gt;.png and manifest.json with each item's settings.
/// </summary>
public sealed class StyleGan2AugmentationHandler : IJobHandler
{
    public bool CanHandle(JobSpec job) => job is AugmentationBatchJob { Family: StyleGanFamily.StyleGan2 };

    public async Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken)
    {
        var job = (AugmentationBatchJob)context.Job;
        if (job.Count < 1) throw new PermanentJobException("Count must be at least 1");
        if (job.Truncation is <= 0 or > 1) throw new PermanentJobException($"Truncation {job.Truncation} is outside (0, 1]");
        var device = cuda.is_available() ? CUDA : CPU;
        var ckpt = await LoadAsync(context, job.Model, device, cancellationToken);
        var g = ckpt.Generator;
        StyleGan2Checkpoint? second = null;
        if (job.Operation == AugmentationOp.SoatBlend)
            second = await LoadAsync(context, job.SecondModel ?? throw new PermanentJobException("SoatBlend needs SecondModel"), device, cancellationToken);
        if (job.Operation == AugmentationOp.StyleMixing && job.MixingCrossover is { } c && (c < 1 || c >= g.Config.NLatent))
            throw new PermanentJobException($"MixingCrossover {c} is not a latent row of this {g.Config.Size} px generator: use 1..{g.Config.NLatent - 1}");
        if (job.Operation == AugmentationOp.SoatPanorama && job.PanoramaLatents < 2)
            throw new PermanentJobException("SoatPanorama needs PanoramaLatents >= 2");

        var sw = Stopwatch.StartNew();
        var items = new List<DatasetItem>();
        for (int i = 0; i < job.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long seed = job.Seed + i;
            var attributes = new Dictionary<string, string>
            {
                ["family"] = "stylegan2",
                ["operation"] = job.Operation.ToString(),
                ["truncation"] = job.Truncation.ToString(CultureInfo.InvariantCulture),
            };
            byte[] png;
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var image = Render(job, ckpt, second, seed, job.Seed + job.Count + i, attributes, device);
                if (job.Size is { } size && size != image.shape[2])
                {
                    long w = image.shape[3] * size / image.shape[2];
                    image = nn.functional.interpolate(image, [size, w], mode: size < image.shape[2] ? InterpolationMode.Area : InterpolationMode.Bilinear);
                }
                attributes["resolution"] = $"{image.shape[3]}x{image.shape[2]}";
                png = Sg2Images.EncodePng(image.clamp(-1, 1));
            }
            var path = BlobLayout.DatasetItem(job.BatchId, $"{i:D5}.png");
            await context.WriteAsync(path, png, "image/png", "dataset-item", cancellationToken);
            items.Add(new DatasetItem(path, seed, Convert.ToHexStringLower(SHA256.HashData(png)), attributes));
            context.ReportProgress((i + 1.0) / job.Count);
        }
        double seconds = sw.Elapsed.TotalSeconds;
        var manifest = new DatasetManifest { BatchId = job.BatchId, JobId = context.JobId, Job = job, Items = items, CreatedAt = DateTimeOffset.UtcNow };
        await context.WriteAsync(BlobLayout.DatasetManifest(job.BatchId), JobJson.ToUtf8(manifest), "application/json", "manifest", cancellationToken);
        return new Dictionary<string, double>
        {
            ["images"] = job.Count,
            ["images_per_second"] = job.Count / Math.Max(seconds, 1e-9),
            ["resolution"] = g.Config.Size,
        };
    }

    internal static Task<StyleGan2Checkpoint> LoadAsync(JobContext context, BlobRef model, Device device, CancellationToken ct) =>
        context.Models.GetAsync(model, f =>
        {
            var c = StyleGan2Checkpoint.Load(f.LocalPath);
            c.Generator.to(device);
            return c;
        }, ct);

    private static Tensor Render(AugmentationBatchJob job, StyleGan2Checkpoint ckpt, StyleGan2Checkpoint? second, long seed, long mixSeed,
        Dictionary<string, string> attributes, Device device)
    {
        var g = ckpt.Generator;
        int d = g.Config.StyleDim;
        var z = Sg2Cli.SeedZ(seed, d).to(device);
        double psi = job.Operation == AugmentationOp.Sample ? 1 : job.Truncation;
        var fixedNoise = new GenerateOptions { RandomizeNoise = false, Truncation = psi, TruncationLatent = psi < 1 ? MeanW(ckpt, job) : null };
        switch (job.Operation)
        {
            case AugmentationOp.Sample:
            case AugmentationOp.Truncation:
                return g.Forward([z], fixedNoise).Image;
            case AugmentationOp.StyleMixing:
            {
                // Random crossover per item, reproducible from its seed (the reference draws it from Python's random).
                int k = job.MixingCrossover ?? new Random(unchecked((int)seed)).Next(1, g.Config.NLatent);
                attributes["mixSeed"] = mixSeed.ToString(CultureInfo.InvariantCulture);
                attributes["injectIndex"] = k.ToString(CultureInfo.InvariantCulture);
                return g.Forward([z, Sg2Cli.SeedZ(mixSeed, d).to(device)], fixedNoise with { InjectIndex = k }).Image;
            }
            case AugmentationOp.SoatPanorama:
            {
                var soat = new Soat(g);
                attributes["latents"] = job.PanoramaLatents.ToString(CultureInfo.InvariantCulture);
                var zs = soat.PanoramaLatents(job.PanoramaLatents, seed);
                return soat.Panorama(zs, new PanoramaOptions(job.PanoramaLatents, psi), MeanStyles(soat, job)).Panorama;
            }
            case AugmentationOp.SoatBlend:
            {
                var (s1, s2) = (new Soat(g), new Soat(second!.Generator));
                var l1 = s1.GetStyles(z, truncation: psi, meanStyles: psi < 1 ? MeanStyles(s1, job) : null);
                var l2 = s2.GetStyles(z, truncation: psi, meanStyles: psi < 1 ? MeanStyles(s2, job) : null);
                try { return s1.BlendGenerators(second.Generator, l1, l2, BlendDirection.Horizontal); }
                catch (ArgumentException e) { throw new PermanentJobException(e.Message, e); }
            }
            default:
                throw new PermanentJobException($"unknown operation {job.Operation}");
        }
    }

    // The mean latents come from a fixed-seed draw, so every item of a batch (and a rerun) uses the same centre.
    private static Tensor MeanW(StyleGan2Checkpoint ckpt, AugmentationBatchJob job)
    {
        if (ckpt.TruncationLatent is { } avg) return avg.to(ckpt.Generator.Device);
        using var gen = new torch.Generator(0);
        return ckpt.Generator.MeanLatent(randn([job.TruncationMeanSamples, ckpt.Generator.Config.StyleDim], generator: gen).to(ckpt.Generator.Device));
    }

    private static List<Tensor> MeanStyles(Soat soat, AugmentationBatchJob job)
    {
        using var gen = new torch.Generator(0);
        return soat.MeanStyles(randn([job.TruncationMeanSamples, soat.G.Config.StyleDim], generator: gen).to(soat.G.Device));
    }
}
