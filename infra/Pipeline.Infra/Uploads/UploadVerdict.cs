using Pipeline.Imaging.Labels;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Uploads;

/// <summary>Machine-readable rejection codes of upload validation (the image codes come from Pipeline.Imaging; the label-map ones map its LabelMapRejection).</summary>
public static class UploadCodes
{
    /// <summary>The blob name is unsafe (path traversal, control characters, too long).</summary>
    public const string BadName = "bad_name";
    /// <summary>Metadata asked for an unknown job or parameters out of range.</summary>
    public const string BadRequest = "bad_request";
    /// <summary>A <c>labels/</c> upload that is not a PNG (label_map_not_png).</summary>
    public const string LabelMapNotPng = "label_map_not_png";
    /// <summary>A label map whose PNG is damaged or unsupported (interlaced, truncated).</summary>
    public const string LabelMapMalformed = "label_map_malformed";
    /// <summary>A label map with colour pixels instead of one class id each (RGB, gray + alpha).</summary>
    public const string LabelMapNotSingleChannel = "label_map_not_single_channel";
    /// <summary>A 16-bit (or other non-8-bit) label map.</summary>
    public const string LabelMapBitDepth = "label_map_bit_depth";
    /// <summary>A label map above the pixel or side limits.</summary>
    public const string LabelMapTooLarge = "label_map_too_large";
    /// <summary>A label map with class ids the model does not know.</summary>
    public const string LabelMapIdOutOfRange = "label_map_id_out_of_range";

    /// <summary>The code of a label-map rejection.</summary>
    public static string LabelMap(LabelMapRejection reason) => reason switch
    {
        LabelMapRejection.NotPng => LabelMapNotPng,
        LabelMapRejection.NotSingleChannel => LabelMapNotSingleChannel,
        LabelMapRejection.UnsupportedBitDepth => LabelMapBitDepth,
        LabelMapRejection.TooLarge => LabelMapTooLarge,
        LabelMapRejection.IdOutOfRange => LabelMapIdOutOfRange,
        _ => LabelMapMalformed,
    };

    /// <summary>Maps a code to the stored contract's reason.</summary>
    public static RejectionReason ToReason(string code) => code switch
    {
        Imaging.RejectionCodes.TooLarge => RejectionReason.TooLarge,
        Imaging.RejectionCodes.NotAnImage or Imaging.RejectionCodes.Corrupt => RejectionReason.NotAnImage,
        Imaging.RejectionCodes.UnsupportedFormat => RejectionReason.UnsupportedFormat,
        Imaging.RejectionCodes.DimensionsTooLarge => RejectionReason.DecompressionBomb,
        Imaging.RejectionCodes.TooSmall => RejectionReason.BadDimensions,
        Imaging.RejectionCodes.NoFace or Imaging.RejectionCodes.MultipleFaces => RejectionReason.NoFace,
        BadName => RejectionReason.BadName,
        LabelMapNotPng => RejectionReason.UnsupportedFormat,
        LabelMapMalformed => RejectionReason.NotAnImage,
        LabelMapTooLarge => RejectionReason.BadDimensions,
        _ => RejectionReason.BadRequest,
    };
}

/// <summary>What was measured about an accepted image.</summary>
public sealed record UploadImageInfo(string Format, int Width, int Height, int ExifOrientation, int? Faces);

/// <summary>
/// The outcome of validating one upload: accepted with the derived jobs, or rejected with a code and a message.
/// The same verdict is what ValidateUpload acts on and what <c>pipeline validate</c> prints.
/// </summary>
public sealed record UploadVerdict
{
    /// <summary>The upload's name under uploads/ (or the file name for local validation).</summary>
    public required string UploadId { get; init; }
    /// <summary>True when the upload becomes jobs.</summary>
    public required bool Accepted { get; init; }
    /// <summary>Rejection code (<see cref="UploadCodes"/>, <see cref="Imaging.RejectionCodes"/>); null when accepted.</summary>
    public string? Code { get; init; }
    /// <summary>Human message: what was wrong and what to do.</summary>
    public string? Message { get; init; }
    /// <summary>Size in bytes.</summary>
    public long Bytes { get; init; }
    /// <summary>Measured image facts when the header could be read.</summary>
    public UploadImageInfo? Image { get; init; }
    /// <summary>Jobs derived from the upload (empty when rejected).</summary>
    public IReadOnlyList<JobEnvelope> Jobs { get; init; } = [];
    /// <summary>Notes such as "face check unavailable".</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>A rejection.</summary>
    public static UploadVerdict Reject(string uploadId, long bytes, string code, string message, UploadImageInfo? image = null) =>
        new() { UploadId = uploadId, Accepted = false, Code = code, Message = message, Bytes = bytes, Image = image };

    /// <summary>The stored rejection document for rejected/&lt;uploadId&gt;.json.</summary>
    public Rejection ToRejection(BlobRef upload, DateTimeOffset at)
    {
        if (Accepted) throw new InvalidOperationException("An accepted upload has no rejection.");
        var details = new Dictionary<string, string> { ["code"] = Code!, ["bytes"] = Bytes.ToString() };
        if (Image is not null)
        {
            details["width"] = Image.Width.ToString();
            details["height"] = Image.Height.ToString();
            details["format"] = Image.Format;
        }
        return new Rejection
        {
            UploadId = UploadId,
            Upload = upload,
            Reason = UploadCodes.ToReason(Code!),
            Message = Message!,
            RejectedAt = at,
            Details = details,
        };
    }
}
