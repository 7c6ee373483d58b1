using Pipeline.Imaging;
using Pipeline.Imaging.Faces;

namespace Pipeline.Infra.Uploads;

/// <summary>The face check of upload validation: Pipeline.Imaging's Haar detector (Debian opencv-data cascade).</summary>
public sealed class HaarFaceCounter(FaceDetector detector) : IFaceCounter
{
    /// <inheritdoc />
    public int CountFaces(RgbImage image) => detector.Detect(image).Count;

    /// <summary>
    /// The counter when the cascade file exists (null otherwise, and validation notes that the face check did not run).
    /// <paramref name="cascadePath"/> null means the Debian default path.
    /// </summary>
    public static HaarFaceCounter? TryCreate(string? cascadePath = null)
    {
        var path = string.IsNullOrWhiteSpace(cascadePath) ? HaarCascade.DebianFrontalFaceAlt2 : cascadePath;
        return File.Exists(path) ? new HaarFaceCounter(new FaceDetector(new FaceDetectorOptions { CascadePath = path })) : null;
    }
}
