using Pipeline.Imaging;
using Pipeline.Worker.Operations.Inputs;

namespace Pipeline.Worker.Operations.Translation;

/// <summary>
/// The one preparation of a Council selfie -> anime input, for translation jobs and `pipeline translate` alike: decode
/// (EXIF orientation applied), then align and crop the face when asked (<c>TranslationJob.CropFace</c>,
/// `--crop-face`). The translator resizes the result itself (the reference's transform).
/// </summary>
public static class SelfieInput
{
    /// <param name="limits">Decode limits: null for uploads (jobs), <see cref="InputImages.LocalFiles"/> for the CLI's own files.</param>
    public static FacePreparation.Outcome Prepare(byte[] encoded, bool cropFace, FacePreparation faces, DecodeLimits? limits = null) =>
        faces.Prepare(InputImages.Decode(encoded, limits: limits), cropFace);

}
