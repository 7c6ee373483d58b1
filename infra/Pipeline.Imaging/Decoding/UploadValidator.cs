using Pipeline.Imaging.Faces;

namespace Pipeline.Imaging;

/// <summary>What a successful upload check found (stored with the accepted job; no pixels).</summary>
/// <param name="Faces">Detection result when a face was required, else null.</param>
public sealed record UploadValidation(ImageHeader Header, int DecodedWidth, int DecodedHeight, FaceDetectionResult? Faces);

/// <summary>
/// The whole upload check in one call, for the blob-triggered function: capped read, content sniffing, header limits,
/// a full decode that must succeed (at a reduced size: every byte is still decoded, so truncation is caught), and
/// optionally a face check (no_face / multiple_faces).
/// </summary>
public static class UploadValidator
{
    /// <summary>Long side the check decodes to: enough for face detection, cheap for huge photos.</summary>
    public const int ValidationMaxSide = 1024;

    /// <summary>
    /// Reads at most <see cref="DecodeLimits.MaxBytes"/> + 1 bytes: an oversized upload is rejected (too_large) without
    /// buffering it, and a seekable stream with a known length is rejected before reading at all.
    /// </summary>
    public static async Task<ImageResult<byte[]>> ReadCappedAsync(Stream stream, DecodeLimits? limits = null, CancellationToken cancellationToken = default)
    {
        limits ??= DecodeLimits.Default;
        if (stream.CanSeek && stream.Length - stream.Position > limits.MaxBytes)
            return ImageResult<byte[]>.Reject(RejectionCodes.TooLarge, $"The upload is {stream.Length - stream.Position:N0} bytes; the limit is {limits.MaxBytes:N0}.");
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            int n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limits.MaxBytes)
                return ImageResult<byte[]>.Reject(RejectionCodes.TooLarge, $"The upload exceeds the limit of {limits.MaxBytes:N0} bytes.");
        }
        return ImageResult<byte[]>.Ok(buffer.ToArray());
    }

    /// <summary>Validates an upload; pass <paramref name="faces"/> when the job needs a face (selfie translation, projection).</summary>
    public static async Task<ImageResult<UploadValidation>> ValidateAsync(Stream upload, DecodeLimits? limits = null, FaceAligner? faces = null, CancellationToken cancellationToken = default)
    {
        var bytes = await ReadCappedAsync(upload, limits, cancellationToken).ConfigureAwait(false);
        if (!bytes.IsSuccess) return ImageResult<UploadValidation>.Reject(bytes.Rejection!);
        return Validate(bytes.Value!, limits, faces);
    }

    public static ImageResult<UploadValidation> Validate(ReadOnlySpan<byte> bytes, DecodeLimits? limits = null, FaceAligner? faces = null)
    {
        var decoded = ImageDecoder.Decode(bytes, limits, ValidationMaxSide);
        if (!decoded.IsSuccess) return ImageResult<UploadValidation>.Reject(decoded.Rejection!);
        var d = decoded.Value!;
        FaceDetectionResult? detection = null;
        if (faces is not null)
        {
            var check = faces.Check(d.Image);
            if (!check.IsSuccess) return ImageResult<UploadValidation>.Reject(check.Rejection!);
            detection = check.Value;
        }
        return ImageResult<UploadValidation>.Ok(new UploadValidation(d.Header, d.Image.Width, d.Image.Height, detection));
    }
}
