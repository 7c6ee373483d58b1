using System.Text.Json.Serialization;

namespace Pipeline.Infra.Contracts;

/// <summary>What a job asks the GPU worker to do. The discriminator is written as "kind".</summary>
public enum JobKind
{
    /// <summary>Find the StyleGAN2 latent of an image.</summary>
    Projection,
    /// <summary>Image-to-image translation (Council GAN selfie->anime, pix2pixHD label->image).</summary>
    Translation,
    /// <summary>Dataset augmentation batch from a StyleGAN v1/v2 model.</summary>
    Augmentation,
    /// <summary>FID/PPL evaluation of a model or a dataset batch.</summary>
    Metrics,
}

/// <summary>
/// Base of every job body. Polymorphic on "kind" so a worker can route without knowing the type up front.
/// Parameters live on the derived records; everything here is part of the deterministic job id.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(ProjectionJob), "projection")]
[JsonDerivedType(typeof(TranslationJob), "translation")]
[JsonDerivedType(typeof(AugmentationBatchJob), "augmentation")]
[JsonDerivedType(typeof(MetricsJob), "metrics")]
public abstract record JobSpec
{
    /// <summary>The job kind of this body.</summary>
    [JsonIgnore]
    public abstract JobKind Kind { get; }

    /// <summary>The model checkpoint the job runs (e.g. "models/stylegan2-ffhq-256.pt").</summary>
    public required BlobRef Model { get; init; }
}

/// <summary>
/// Projection of an image into StyleGAN2 latent space (rosinality projector.py parameters and defaults).
/// Outputs under results/&lt;jobId&gt;/: latent (w or w+), noises, projected image, per-step loss log.
/// </summary>
public sealed record ProjectionJob : JobSpec
{
    /// <inheritdoc />
    [JsonIgnore]
    public override JobKind Kind => JobKind.Projection;
    /// <summary>The image to project (an uploads/ blob with its ETag).</summary>
    public required BlobRef Input { get; init; }
    /// <summary>
    /// Optimisation steps; null = the start's default: 100 from an encoder's W+, 1000 (projector.py) from the mean latent.
    /// Null is not written, so a job that names its steps keeps its id.
    /// </summary>
    public int? Steps { get; init; }
    /// <summary>Peak learning rate.</summary>
    public double LearningRate { get; init; } = 0.1;
    /// <summary>Strength of the latent noise at step 0; null = the start's default: 0 from an encoder's W+, 0.05 (projector.py) from the mean latent.</summary>
    public double? Noise { get; init; }
    /// <summary>Fraction of steps over which the latent noise ramps down.</summary>
    public double NoiseRamp { get; init; } = 0.75;
    /// <summary>Weight of the noise regularisation term.</summary>
    public double NoiseRegularize { get; init; } = 1e5;
    /// <summary>Weight of the pixel MSE term (0 = perceptual loss only).</summary>
    public double Mse { get; init; }
    /// <summary>Optimise one w per layer (w+) instead of a single w.</summary>
    public bool WPlus { get; init; }
    /// <summary>Seed of the noise initialisation, so a rerun reproduces the result.</summary>
    public long Seed { get; init; }
    /// <summary>Detect and FFHQ-align the face first (face models); false for other domains.</summary>
    public bool AlignFace { get; init; } = true;
    /// <summary>
    /// Start of the optimisation: "encoder" (the W+ predicted by &lt;model&gt;.encoder.pt; implies W+, and 100
    /// steps are enough), "mean" (projector.py's mean latent), or null = the encoder when the model has one.
    /// Null is not written, so job ids of existing jobs are unchanged.
    /// </summary>
    public string? Init { get; init; }
}

/// <summary>Which translation network a <see cref="TranslationJob"/> runs.</summary>
public enum TranslationVariant
{
    /// <summary>Council GAN selfie -> anime; several diverse outputs from random style codes.</summary>
    CouncilSelfieToAnime,
    /// <summary>pix2pixHD semantic label map (+ optional instance map) -> photo.</summary>
    Pix2PixHdLabelToImage,
}

/// <summary>Image-to-image translation. Outputs: results/&lt;jobId&gt;/output-&lt;i&gt;.png.</summary>
public sealed record TranslationJob : JobSpec
{
    /// <inheritdoc />
    [JsonIgnore]
    public override JobKind Kind => JobKind.Translation;
    /// <summary>Network family and direction.</summary>
    public required TranslationVariant Variant { get; init; }
    /// <summary>The selfie (Council) or the label map (pix2pixHD).</summary>
    public required BlobRef Input { get; init; }
    /// <summary>pix2pixHD only: the instance map whose edges sharpen object boundaries.</summary>
    public BlobRef? InstanceMap { get; init; }
    /// <summary>Council only: how many diverse outputs to draw (one random style code each).</summary>
    public int Outputs { get; init; } = 1;
    /// <summary>Seed of the style codes, so a rerun gives the same outputs.</summary>
    public long Seed { get; init; }
    /// <summary>Council only: crop and align the detected face before translating.</summary>
    public bool CropFace { get; init; } = true;
    /// <summary>Square output side in pixels; null = the model's native size.</summary>
    public int? Size { get; init; }
    /// <summary>
    /// Council only: the target domain's Inception features (an .npz with feature rows, `pipeline stats --features`).
    /// When set, the job records KID of its outputs against them (metric kid_translation, the Council GAN paper's
    /// measure). Null is not written, so ids of jobs without it are unchanged.
    /// </summary>
    public BlobRef? ReferenceFeatures { get; init; }
}

/// <summary>The StyleGAN generation a model belongs to.</summary>
public enum StyleGanFamily
{
    /// <summary>StyleGAN (v1, progressive-growing mapping + synthesis).</summary>
    StyleGan1,
    /// <summary>StyleGAN2 (rosinality stylegan2-pytorch).</summary>
    StyleGan2,
}

/// <summary>The augmentation operation of a batch.</summary>
public enum AugmentationOp
{
    /// <summary>Plain sampling from z.</summary>
    Sample,
    /// <summary>Sampling with the truncation trick toward the mean w.</summary>
    Truncation,
    /// <summary>Style mixing: coarse styles from one latent, fine from another, crossing at <see cref="AugmentationBatchJob.MixingCrossover"/>.</summary>
    StyleMixing,
    /// <summary>SOAT panorama: a wide image stitched from aligned latents.</summary>
    SoatPanorama,
    /// <summary>SOAT blend: left half from <see cref="JobSpec.Model"/>, right half from <see cref="AugmentationBatchJob.SecondModel"/>.</summary>
    SoatBlend,
}

/// <summary>
/// A dataset augmentation batch. Outputs: datasets/&lt;batchId&gt;/&lt;index&gt;.png and datasets/&lt;batchId&gt;/manifest.json.
/// </summary>
public sealed record AugmentationBatchJob : JobSpec
{
    /// <inheritdoc />
    [JsonIgnore]
    public override JobKind Kind => JobKind.Augmentation;
    /// <summary>Names the batch folder under datasets/ (safe id: letters, digits, '-', '_', '.').</summary>
    public required string BatchId { get; init; }
    /// <summary>StyleGAN v1 or v2.</summary>
    public required StyleGanFamily Family { get; init; }
    /// <summary>What to generate.</summary>
    public required AugmentationOp Operation { get; init; }
    /// <summary>Number of images in the batch.</summary>
    public int Count { get; init; } = 16;
    /// <summary>First seed; image i uses Seed + i.</summary>
    public long Seed { get; init; }
    /// <summary>Truncation psi (1 = none).</summary>
    public double Truncation { get; init; } = 1.0;
    /// <summary>Samples used to estimate the mean w for truncation.</summary>
    public int TruncationMeanSamples { get; init; } = 4096;
    /// <summary>Style mixing: first layer index that takes the second latent; null = random per image.</summary>
    public int? MixingCrossover { get; init; }
    /// <summary>SOAT panorama: number of latents stitched side by side.</summary>
    public int PanoramaLatents { get; init; } = 3;
    /// <summary>SOAT blend: the second model.</summary>
    public BlobRef? SecondModel { get; init; }
    /// <summary>Output side in pixels (null = native).</summary>
    public int? Size { get; init; }
    /// <summary>
    /// "More like this": every image's first latent comes from this seed instead of Seed + i (with StyleMixing and a
    /// MixingCrossover, all images then share this image's coarse styles). Sample/Truncation/StyleMixing only.
    /// </summary>
    public long? BaseSeed { get; init; }
    /// <summary>
    /// With <see cref="BaseSeed"/>: image i's first latent is sqrt(1-v²)·z(BaseSeed) + v·z(Seed + i), a neighbourhood
    /// of the base image in z (v in (0, 1]; variance-preserving, so the latents stay on the prior). Null = z(BaseSeed).
    /// </summary>
    public double? Variation { get; init; }
}

/// <summary>A metric evaluation (FID, KID or PPL) of a model or of a dataset batch; one JSON line per evaluation under metrics/.</summary>
public sealed record MetricsJob : JobSpec
{
    /// <inheritdoc />
    [JsonIgnore]
    public override JobKind Kind => JobKind.Metrics;
    /// <summary>Registered metric name, e.g. "fid50k_full", "kid50k_full" or "ppl_wend".</summary>
    public required string Metric { get; init; }
    /// <summary>FID/KID of a dataset batch instead of freshly generated images: datasets/&lt;batchId&gt;/.</summary>
    public string? DatasetBatchId { get; init; }
    /// <summary>
    /// FID: precomputed Inception statistics of the real data (an .npz with mu and sigma). KID needs the feature rows
    /// too (`feats`, written by `pipeline stats --features`); one such file serves both.
    /// </summary>
    public BlobRef? ReferenceStats { get; init; }
    /// <summary>
    /// At most this many images (FID, KID) or latent pairs (PPL); null = the count <see cref="Metric"/> is registered
    /// with (e.g. 50,000). The metric line records how many were used. Everything else (PPL space, sampling, epsilon,
    /// crop) is fixed by the registered definition, so a metric name always means the same measurement.
    /// </summary>
    public int? Samples { get; init; }
    /// <summary>Seed of the sampling: generated images start at this seed, PPL's pairs are drawn from a generator seeded with it.</summary>
    public long Seed { get; init; }
    /// <summary>Truncation psi for the generated images.</summary>
    public double Truncation { get; init; } = 1.0;
    /// <summary>Free-form label recorded with the metric line (e.g. the training run).</summary>
    public string? RunLabel { get; init; }
}
