using System.Runtime.InteropServices;
using SkiaSharp;

namespace Pipeline.Imaging;

/// <summary>
/// Decoding for untrusted uploads through Skia's SKCodec. Order of checks: byte cap, content sniffing, header-only
/// dimension limits (no pixel memory yet), then a full decode that must report <see cref="SKCodecResult.Success"/>.
/// Every failure is an <see cref="ImageRejection"/>; nothing here throws on bad input.
/// </summary>
public static class ImageDecoder
{
    /// <summary>Reads the header only: format, upright dimensions, orientation. Allocates no pixels.</summary>
    public static ImageResult<ImageHeader> Probe(ReadOnlySpan<byte> bytes, DecodeLimits? limits = null)
    {
        limits ??= DecodeLimits.Default;
        var pre = Precheck(bytes, limits, out var format);
        if (pre is not null) return ImageResult<ImageHeader>.Reject(pre);
        using var data = SKData.CreateCopy(bytes);
        using var opened = Open(data, format, limits);
        return opened.Rejection is not null ? ImageResult<ImageHeader>.Reject(opened.Rejection) : ImageResult<ImageHeader>.Ok(opened.Header!);
    }

    /// <summary>
    /// Decodes to an upright RGB image. With <paramref name="targetMaxSide"/>, JPEGs (DCT scaling) and WebPs are decoded scaled down to no less
    /// than twice the target, then reduced with our Lanczos3 so the long side is at most the target (never enlarged).
    /// </summary>
    public static ImageResult<DecodedImage> Decode(ReadOnlySpan<byte> bytes, DecodeLimits? limits = null, int? targetMaxSide = null) =>
        Decode(bytes, limits, targetMaxSide, RgbConversion.UprightOverWhite);

    /// <summary>
    /// Decodes to RGB with the chosen <paramref name="conversion"/> (<see cref="RgbConversion.PilConvert"/> for parity with a Python
    /// reference that reads with PIL). <see cref="DecodedImage.Scale"/> relates to the upright header either way.
    /// </summary>
    public static ImageResult<DecodedImage> Decode(ReadOnlySpan<byte> bytes, DecodeLimits? limits, int? targetMaxSide, RgbConversion conversion)
    {
        limits ??= DecodeLimits.Default;
        if (targetMaxSide is <= 0) throw new ArgumentOutOfRangeException(nameof(targetMaxSide), "targetMaxSide must be positive.");
        var pre = Precheck(bytes, limits, out var format);
        if (pre is not null) return ImageResult<DecodedImage>.Reject(pre);
        using var data = SKData.CreateCopy(bytes);
        using var opened = Open(data, format, limits);
        if (opened.Rejection is not null) return ImageResult<DecodedImage>.Reject(opened.Rejection);
        var header = opened.Header!;
        var codec = opened.Codec!;

        var (dw, dh) = PickDecodeSize(codec, header, targetMaxSide);
        // Within int range: the header check capped the pixel count before we got here.
        if ((long)dw * dh * 4 > Array.MaxLength)
            return ImageResult<DecodedImage>.Reject(RejectionCodes.DimensionsTooLarge, $"{dw}x{dh} RGBA does not fit one buffer; lower MaxPixels.");
        var rgba = new byte[dw * dh * 4];
        var info = new SKImageInfo(dw, dh, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        SKCodecResult result;
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            // Frame 0 for GIF/animated WebP; for still images this is the only frame.
            result = codec.GetPixels(info, handle.AddrOfPinnedObject(), info.RowBytes, new SKCodecOptions(0));
        }
        finally
        {
            handle.Free();
        }
        if (result != SKCodecResult.Success)
            return ImageResult<DecodedImage>.Reject(RejectionCodes.Corrupt, DescribeFailure(result, "decoding pixels"));

        var image = conversion == RgbConversion.PilConvert
            ? RgbImage.FromRgbaDroppingAlpha(rgba, dw, dh)
            : Orientation.ToUpright(RgbImage.FromRgba(rgba, dw, dh), header.ExifOrientation);
        if (targetMaxSide is int t && Math.Max(image.Width, image.Height) > t)
        {
            double f = (double)t / Math.Max(image.Width, image.Height);
            int nw = Math.Max(1, (int)Math.Round(image.Width * f)), nh = Math.Max(1, (int)Math.Round(image.Height * f));
            image = Resampler.Resize(image, nw, nh, ResampleFilter.Lanczos3);
        }
        return ImageResult<DecodedImage>.Ok(new DecodedImage(image, header, (double)image.Width / header.Width));
    }

    /// <summary>Convenience for callers that prefer exceptions (the worker, on inputs the functions already validated).</summary>
    public static DecodedImage DecodeOrThrow(ReadOnlySpan<byte> bytes, DecodeLimits? limits = null, int? targetMaxSide = null) =>
        Decode(bytes, limits, targetMaxSide).GetValueOrThrow();

    /// <summary>
    /// The entry point for the pipeline's own and local files (CLI inputs, datasets, our own outputs), not uploads: the same
    /// sniffing, header checks and full decode, but under <see cref="DecodeLimits.LocalFiles"/> (no upload minimum side,
    /// no upload byte cap). Throws <see cref="InvalidDataException"/> naming <paramref name="name"/>.
    /// </summary>
    public static RgbImage DecodeFile(ReadOnlySpan<byte> bytes, string name, RgbConversion conversion = RgbConversion.UprightOverWhite, int? targetMaxSide = null)
    {
        var result = Decode(bytes, DecodeLimits.LocalFiles, targetMaxSide, conversion);
        return result.Value?.Image ?? throw new InvalidDataException($"{name}: {result.Rejection!.Message}");
    }

    /// <summary><see cref="DecodeFile(ReadOnlySpan{byte}, string, RgbConversion, int?)"/> of a file on disk.</summary>
    public static RgbImage DecodeFile(string path, RgbConversion conversion = RgbConversion.UprightOverWhite, int? targetMaxSide = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"image not found: {path}", path);
        if (new FileInfo(path).Length > DecodeLimits.LocalFiles.MaxBytes)
            throw new InvalidDataException($"{path}: larger than {DecodeLimits.LocalFiles.MaxBytes:N0} bytes");
        return DecodeFile(File.ReadAllBytes(path), path, conversion, targetMaxSide);
    }

    private static ImageRejection? Precheck(ReadOnlySpan<byte> bytes, DecodeLimits limits, out ImageFormat format)
    {
        format = default;
        if (bytes.Length > limits.MaxBytes)
            return new ImageRejection(RejectionCodes.TooLarge, $"The upload is {bytes.Length:N0} bytes; the limit is {limits.MaxBytes:N0}.");
        var sniff = FormatSniffer.Sniff(bytes, out format);
        return sniff.Rejection;
    }

    private static (int W, int H) PickDecodeSize(SKCodec codec, ImageHeader header, int? targetMaxSide)
    {
        int w = header.StoredWidth, h = header.StoredHeight;
        // JPEG scales in the DCT domain (1/2, 1/4, 1/8); libwebp has its own area-averaging rescaler. PNG/GIF decode full size.
        if (targetMaxSide is not int t || header.Format is not (ImageFormat.Jpeg or ImageFormat.Webp)) return (w, h);
        // Smallest scale whose long side still has ≥ 2× the target, so our Lanczos does the final, alias-free reduction.
        foreach (var scale in new[] { 0.125f, 0.25f, 0.5f })
        {
            var s = codec.GetScaledDimensions(scale);
            if (s.Width > 0 && s.Height > 0 && Math.Max(s.Width, s.Height) >= 2L * t && s.Width < w)
                return (s.Width, s.Height);
        }
        return (w, h);
    }

    private static OpenedCodec Open(SKData data, ImageFormat sniffed, DecodeLimits limits)
    {
        var stream = new SKMemoryStream(data);
        var codec = SKCodec.Create(stream, out var result);
        if (codec is null)
        {
            stream.Dispose();
            string code = result == SKCodecResult.Unimplemented ? RejectionCodes.NotAnImage : RejectionCodes.Corrupt;
            return new OpenedCodec(null, null, null, new ImageRejection(code, DescribeFailure(result, "reading the header")));
        }
        var opened = new OpenedCodec(stream, codec, null, null);
        var format = codec.EncodedFormat switch
        {
            SKEncodedImageFormat.Jpeg => ImageFormat.Jpeg,
            SKEncodedImageFormat.Png => ImageFormat.Png,
            SKEncodedImageFormat.Webp => ImageFormat.Webp,
            SKEncodedImageFormat.Gif => ImageFormat.Gif,
            _ => (ImageFormat?)null,
        };
        if (format != sniffed)
            return opened.With(new ImageRejection(RejectionCodes.UnsupportedFormat, $"The signature says {sniffed} but the decoder found {codec.EncodedFormat}."));

        int sw = codec.Info.Width, sh = codec.Info.Height;
        int exif = (int)codec.EncodedOrigin;
        if (exif is < 1 or > 8) exif = 1;
        bool swap = Orientation.SwapsAxes(exif);
        int w = swap ? sh : sw, h = swap ? sw : sh;
        if (sw <= 0 || sh <= 0)
            return opened.With(new ImageRejection(RejectionCodes.Corrupt, $"The header declares an empty image ({sw}x{sh})."));
        if ((long)sw * sh > limits.MaxPixels || Math.Max(sw, sh) > limits.MaxSide)
            return opened.With(new ImageRejection(RejectionCodes.DimensionsTooLarge,
                $"The image declares {sw}x{sh} pixels; the limits are {limits.MaxPixels:N0} pixels and {limits.MaxSide} per side."));
        if (Math.Min(sw, sh) < limits.MinSide)
            return opened.With(new ImageRejection(RejectionCodes.TooSmall, $"The image is {w}x{h}; the shorter side must be at least {limits.MinSide} pixels."));
        int frames = Math.Max(1, codec.FrameCount);
        return opened with { Header = new ImageHeader(format.Value, w, h, sw, sh, exif, frames) };
    }

    private static string DescribeFailure(SKCodecResult result, string stage) => result switch
    {
        SKCodecResult.IncompleteInput => $"The file is truncated (decoder stopped early while {stage}).",
        SKCodecResult.ErrorInInput => $"The file is damaged (decoder found errors while {stage}).",
        SKCodecResult.InvalidInput => $"The file is invalid (decoder rejected it while {stage}).",
        SKCodecResult.Unimplemented => "The content is not an image the decoder understands.",
        SKCodecResult.InternalError => $"The decoder failed while {stage} (allocation refused or internal error).",
        _ => $"The decoder reported {result} while {stage}.",
    };

    private sealed record OpenedCodec(SKMemoryStream? Stream, SKCodec? Codec, ImageHeader? Header, ImageRejection? Rejection) : IDisposable
    {
        public OpenedCodec With(ImageRejection rejection) => this with { Rejection = rejection };

        public void Dispose()
        {
            Codec?.Dispose();
            Stream?.Dispose();
        }
    }
}
