using Pipeline.Imaging;

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
    /// <summary>StyleGAN2 checkpoint projections run against.</summary>
    public string ProjectionModel { get; init; } = "models/stylegan2-ffhq-256.pt";
    /// <summary>Council GAN selfie-to-anime checkpoint.</summary>
    public string SelfieModel { get; init; } = "models/councilgan-selfie2anime-256.pt";
    /// <summary>pix2pixHD label-to-image checkpoint.</summary>
    public string LabelModel { get; init; } = "models/pix2pixhd-cityscapes-512.pt";
    /// <summary>Diverse Council outputs per selfie unless the upload asks otherwise.</summary>
    public int DefaultTranslationOutputs { get; init; } = 4;
    /// <summary>Most outputs an upload may ask for.</summary>
    public int MaxTranslationOutputs { get; init; } = 8;
    /// <summary>Most projection steps an upload may ask for.</summary>
    public int MaxProjectionSteps { get; init; } = 5000;

    /// <summary>The decoder limits these options imply.</summary>
    public DecodeLimits ToDecodeLimits() => new() { MaxBytes = MaxBytes, MaxPixels = MaxPixels, MaxSide = MaxSide, MinSide = MinSide };
}
