using Pipeline.Imaging;

namespace Pipeline.Infra.Uploads;

/// <summary>
/// Counts faces in an upright image. Plugged in where a detector exists (Pipeline.Imaging's face detection);
/// without one, selfie uploads are accepted with a note that the face check did not run.
/// </summary>
public interface IFaceCounter
{
    /// <summary>Number of faces found.</summary>
    int CountFaces(RgbImage image);
}
