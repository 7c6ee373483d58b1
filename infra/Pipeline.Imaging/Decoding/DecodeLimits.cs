namespace Pipeline.Imaging;

/// <summary>
/// Limits applied to untrusted uploads before any pixel memory is allocated. Defaults follow docs/imaging.md:
/// 20 MB, 40 MP, 12000 px per side (a 40 MP RGBA decode holds 160 MB), 64 px minimum side.
/// </summary>
public sealed record DecodeLimits
{
    public long MaxBytes { get; init; } = 20L * 1024 * 1024;
    public long MaxPixels { get; init; } = 40_000_000;
    public int MaxSide { get; init; } = 12_000;
    public int MinSide { get; init; } = 64;

    public static DecodeLimits Default { get; } = new();

    /// <summary>
    /// Limits for the pipeline's own and local files (<see cref="ImageDecoder.DecodeFile(string, RgbConversion, int?)"/>): no
    /// minimum side (test models make tiny images), a bomb guard of 64 MP and 32768 px per side, 512 MB of bytes.
    /// </summary>
    public static DecodeLimits LocalFiles { get; } = new() { MaxBytes = 512L * 1024 * 1024, MaxPixels = 64L * 1024 * 1024, MaxSide = 32_768, MinSide = 1 };
}

/// <summary>How decoded RGBA becomes RGB.</summary>
public enum RgbConversion
{
    /// <summary>EXIF orientation applied, transparency composited over white (uploads, the worker's jobs).</summary>
    UprightOverWhite,
    /// <summary>As PIL's <c>Image.open(f).convert("RGB")</c>: stored orientation, alpha dropped (parity with Python references).</summary>
    PilConvert,
}

/// <summary>Raster formats we accept, identified from content, never from the file name.</summary>
public enum ImageFormat
{
    Jpeg,
    Png,
    Webp,
    Gif,
}

/// <summary>What the header says, without decoding pixels. Width/Height are upright (EXIF orientation applied).</summary>
public sealed record ImageHeader(ImageFormat Format, int Width, int Height, int StoredWidth, int StoredHeight, int ExifOrientation, int FrameCount);

/// <summary>A decoded upright image plus where it came from.</summary>
/// <param name="Image">Upright RGB pixels (possibly reduced when a target size was asked for).</param>
/// <param name="Header">The original header (full-size upright dimensions).</param>
/// <param name="Scale">Image.Width / Header.Width: multiply coordinates in Image by 1/Scale to reach original pixels.</param>
public sealed record DecodedImage(RgbImage Image, ImageHeader Header, double Scale);
