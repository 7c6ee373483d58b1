using Pipeline.Imaging;
using Pipeline.Imaging.Faces;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Uploads;

/// <summary>One upload to validate: its name under uploads/, ETag, bytes and user metadata.</summary>
public sealed record UploadCandidate(string UploadId, string? ETag, ReadOnlyMemory<byte> Content, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>
/// The one upload validation, shared by the ValidateUpload function and <c>pipeline validate</c>. Cheap checks first:
/// a safe name, the byte cap, the requested jobs, then content sniffing and header-only dimension limits (no pixel
/// memory before that), a full decode that must succeed (truncation), EXIF orientation, minimum resolution, and a
/// face check for selfie jobs when a face checker is available (Pipeline.Imaging's decoder and FaceAligner).
/// Never throws on bad input.
/// </summary>
public sealed class UploadValidator(UploadValidationOptions? options = null, FaceAligner? faces = null, JobIdOptions? jobIds = null, TimeProvider? time = null)
{
    private readonly UploadValidationOptions _options = options ?? new UploadValidationOptions();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Long side uploads are decoded to for the checks.</summary>
    public const int ValidationMaxSide = 1024;

    /// <summary>The limits in force.</summary>
    public UploadValidationOptions Options => _options;

    /// <summary>Checks a declared size before the bytes are even materialized (e.g. the blob's Content-Length).</summary>
    public UploadVerdict? PrecheckSize(string uploadId, long declaredBytes) =>
        declaredBytes > _options.MaxBytes
            ? UploadVerdict.Reject(uploadId, declaredBytes, RejectionCodes.TooLarge,
                $"The upload is {declaredBytes:N0} bytes; the limit is {_options.MaxBytes:N0}. Upload a smaller JPEG, PNG or WebP.")
            : null;

    /// <summary>Validates one upload and derives its jobs.</summary>
    public UploadVerdict Validate(UploadCandidate upload, string source = "blob-trigger")
    {
        ArgumentNullException.ThrowIfNull(upload);
        var id = upload.UploadId ?? "";
        long bytes = upload.Content.Length;
        if (!BlobNames.IsSafeRelative(id, out var why))
            return UploadVerdict.Reject(id, bytes, UploadCodes.BadName, $"The upload name is not usable: {why}. Use a plain relative name such as 'selfies/me.jpg'.");
        if (PrecheckSize(id, bytes) is { } tooLarge) return tooLarge;

        var input = new BlobRef(BlobLayout.Upload(id), upload.ETag);
        var plan = UploadJobPlanner.For(input, id, upload.Metadata, _options);
        if (plan.Error is not null) return UploadVerdict.Reject(id, bytes, UploadCodes.BadRequest, $"The upload's metadata is invalid: {plan.Error}.");

        // Every byte is decoded (truncation is caught) at a reduced size: enough for the face check, cheap for big photos.
        var decoded = ImageDecoder.Decode(upload.Content.Span, _options.ToDecodeLimits(), ValidationMaxSide);
        ImageRejection? rejection = decoded.Rejection;
        FaceDetectionResult? detection = null;
        if (rejection is null && plan.NeedsFace && faces is not null)
        {
            var check = faces.Check(decoded.Value!.Image);
            rejection = check.Rejection;
            detection = check.Value;
        }
        if (rejection is not null)
        {
            // The header may still be readable (e.g. too small, no face): report what was measured.
            var probe = ImageDecoder.Probe(upload.Content.Span, _options.ToDecodeLimits() with { MinSide = 1 });
            int? faceCount = rejection.Code == RejectionCodes.NoFace ? 0 : null;
            var info = probe.Value is { } h ? new UploadImageInfo(h.Format.ToString().ToLowerInvariant(), h.Width, h.Height, h.ExifOrientation, faceCount) : null;
            return UploadVerdict.Reject(id, bytes, rejection.Code, rejection.Message, info);
        }

        var header = decoded.Value!.Header;
        var notes = new List<string>();
        if (plan.NeedsFace && faces is null) notes.Add("face check unavailable: no face detector configured");

        var now = _time.GetUtcNow();
        return new UploadVerdict
        {
            UploadId = id,
            Accepted = true,
            Bytes = bytes,
            Image = new UploadImageInfo(header.Format.ToString().ToLowerInvariant(), header.Width, header.Height, header.ExifOrientation, detection?.Count),
            Jobs = plan.Jobs.Select(j => JobEnvelope.Create(j, source, now, jobIds)).ToList(),
            Notes = notes,
        };
    }
}
