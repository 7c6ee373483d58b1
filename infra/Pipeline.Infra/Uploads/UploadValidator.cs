using Pipeline.Imaging;
using Pipeline.Imaging.Faces;
using Pipeline.Imaging.Labels;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Uploads;

/// <summary>One upload to validate: its name under uploads/, ETag, bytes and user metadata.</summary>
public sealed record UploadCandidate(string UploadId, string? ETag, ReadOnlyMemory<byte> Content, IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>
/// The one upload validation, shared by the ValidateUpload function and <c>pipeline validate</c>. Cheap checks first:
/// a safe name, the byte cap, the requested jobs, then content sniffing and header-only dimension limits (no pixel
/// memory before that), a full decode that must succeed (truncation), EXIF orientation, minimum resolution, and a
/// face check for selfie jobs when a face checker is available (Pipeline.Imaging's decoder and FaceAligner).
/// Uploads for pix2pixHD (<c>labels/</c>, or metadata job=labels) are label maps instead: they are read with the exact
/// PNG reader of Pipeline.Imaging.Labels, as the worker reads them (single-channel 8-bit gray or palette PNG, class ids
/// below <see cref="UploadValidationOptions.LabelClasses"/> when set, within the pixel and side limits).
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

        static bool IsLabels(JobSpec j) => j is TranslationJob { Variant: TranslationVariant.Pix2PixHdLabelToImage };
        if (plan.Jobs.Any(IsLabels))
        {
            if (CheckLabelMap(id, bytes, upload.Content.Span, out var labelInfo) is { } badMap) return badMap;
            // A label map is not a photo: only jobs that also want a photo go on to the image checks below.
            if (plan.Jobs.All(IsLabels))
            {
                var at = _time.GetUtcNow();
                return new UploadVerdict { UploadId = id, Accepted = true, Bytes = bytes, Image = labelInfo, Jobs = plan.Jobs.Select(j => JobEnvelope.Create(j, source, at, jobIds)).ToList() };
            }
        }

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

    /// <summary>The label-map checks of a pix2pixHD upload; null when the map is usable (its facts in <paramref name="info"/>).</summary>
    private UploadVerdict? CheckLabelMap(string id, long bytes, ReadOnlySpan<byte> content, out UploadImageInfo? info)
    {
        info = null;
        var png = content.ToArray();
        LabelMapRejection reason;
        string message;
        try
        {
            var (_, map) = LabelMaps.ReadLabels(png, _options.LabelClasses ?? 256, _options.MaxPixels);
            info = new UploadImageInfo("png", map.Width, map.Height, 1, null);
            if (Math.Max(map.Width, map.Height) <= _options.MaxSide) return null;
            (reason, message) = (LabelMapRejection.TooLarge, $"label map is {map.Width}x{map.Height}, above the limit of {_options.MaxSide} pixels per side");
        }
        catch (InvalidLabelMapException e)
        {
            (reason, message) = (e.Reason, e.Message);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            (reason, message) = (LabelMapRejection.Malformed, $"label map PNG is damaged ({e.Message})");
        }
        if (info is null && PngSamples.HasSignature(png))
        {
            try
            {
                var (w, h) = PngSamples.ReadSize(png);
                info = new UploadImageInfo("png", w, h, 1, null);
            }
            catch (InvalidLabelMapException) { }
        }
        return UploadVerdict.Reject(id, bytes, UploadCodes.LabelMap(reason),
            $"The label map is not usable: {message}. Upload a single-channel PNG (8-bit grayscale or palette) with one class id per pixel.", info);
    }
}
