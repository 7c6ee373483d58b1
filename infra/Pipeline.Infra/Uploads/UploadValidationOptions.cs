using Pipeline.Imaging;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Uploads;

/// <summary>Limits and defaults of upload validation (configuration section <c>Pipeline:Uploads</c>).</summary>
public sealed record UploadValidationOptions
{
    /// <summary>Largest upload accepted, checked before anything is decoded.</summary>
    public long MaxBytes { get; init; } = 20L * 1024 * 1024;
    /// <summary>Most pixels a header may declare (decompression-bomb guard, checked before any pixel allocation).</summary>
    public long MaxPixels { get; init; } = 40_000_000;
    /// <summary>Longest side a header may declare.</summary>
    public int MaxSide { get; init; } = 12_000;
    /// <summary>Shortest side accepted: below it GAN inputs are upscaled mush.</summary>
    public int MinSide { get; init; } = 128;
    // The defaults name the models this repository bundles under models/ (the demo publishes them; docs/deploy.md
    // says how to upload them or point these settings at one's own checkpoints).
    /// <summary>StyleGAN2 checkpoint projections run against.</summary>
    public string ProjectionModel { get; init; } = "models/stylegan2-synthfaces-64.pt";
    /// <summary>Council GAN selfie-to-anime council: a models/ folder of member files and config.yaml.</summary>
    public string SelfieModel { get; init; } = "models/council-synthfaces-64/";
    /// <summary>
    /// Inception features of the target (anime) domain, a blob made by `pipeline stats &lt;folder&gt; -o f.npz --features`:
    /// when set, selfie jobs with two or more outputs record KID of their outputs against it (kid_translation). Unset: not measured.
    /// </summary>
    public string? SelfieReferenceFeatures { get; init; }
    /// <summary>pix2pixHD label-to-image model folder (latest_net_G.pth, opt.txt, ...); the bundled one translates synthetic-landscape label maps.</summary>
    public string LabelModel { get; init; } = "models/pix2pixhd/";
    /// <summary>
    /// Class count (label_nc) of <see cref="LabelModel"/>: when set, label-map uploads with class ids at or above it are
    /// rejected at upload time (the worker checks against the model itself either way). Null: only the 8-bit range is checked.
    /// </summary>
    public int? LabelClasses { get; init; }
    /// <summary>Diverse Council outputs per selfie unless the upload asks otherwise.</summary>
    public int DefaultTranslationOutputs { get; init; } = 4;
    /// <summary>Most outputs an upload may ask for.</summary>
    public int MaxTranslationOutputs { get; init; } = 8;
    /// <summary>Most projection steps an upload may ask for: can be lowered, never above <see cref="JobLimits.MaxProjectionSteps"/> (the worker's bound).</summary>
    public int MaxProjectionSteps { get; init; } = JobLimits.MaxProjectionSteps;

    /// <summary>The decoder limits these options imply.</summary>
    public DecodeLimits ToDecodeLimits() => new() { MaxBytes = MaxBytes, MaxPixels = MaxPixels, MaxSide = MaxSide, MinSide = MinSide };
}
