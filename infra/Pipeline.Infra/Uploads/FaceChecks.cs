using Pipeline.Imaging.Faces;

namespace Pipeline.Infra.Uploads;

/// <summary>The face check of selfie uploads: Pipeline.Imaging's FaceAligner (Haar detection, no landmarks needed).</summary>
public static class FaceChecks
{
    /// <summary>
    /// A face checker when the cascade file exists, else null (validation then notes that the face check did not run).
    /// <paramref name="cascadePath"/> null means Debian opencv-data's frontalface_alt2.
    /// </summary>
    public static FaceAligner? TryCreate(string? cascadePath = null, bool rejectMultipleFaces = false)
    {
        var path = string.IsNullOrWhiteSpace(cascadePath) ? HaarCascade.DebianFrontalFaceAlt2 : cascadePath;
        return File.Exists(path) ? new FaceAligner(new FaceAlignmentOptions { CascadePath = path, RejectMultipleFaces = rejectMultipleFaces }) : null;
    }
}
