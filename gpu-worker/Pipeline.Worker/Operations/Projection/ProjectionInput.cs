using Pipeline.Imaging;
using Pipeline.Worker.Operations.Inputs;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Projection;

/// <summary>
/// The one preparation of a projection target, for projection jobs and `pipeline project` alike: decode the upload
/// (EXIF orientation applied), align the face when asked, then projector.py's transform with the Pillow-exact bilinear
/// resize. The same file therefore gives the same target tensor, and so the same latent, on both paths.
/// </summary>
public static class ProjectionInput
{
    /// <summary>The side the projector works at for a generator of <paramref name="generatorSize"/> px (projector.py: at most 256).</summary>
    public static int Resolution(int generatorSize) => Math.Min(generatorSize, 256);

    /// <summary>A prepared target: [3, R, R] in [-1, 1] (owned by the caller) and what face preparation did.</summary>
    public sealed record Prepared(Tensor Target, FacePreparation.Outcome Face);

    /// <summary>Decodes, orients, aligns (when <paramref name="alignFace"/>) and preprocesses encoded image bytes.</summary>
    /// <param name="limits">Decode limits: null for uploads (jobs), <see cref="InputImages.LocalFiles"/> for the CLI's own files.</param>
    public static Prepared Prepare(byte[] encoded, bool alignFace, int resolution, FacePreparation faces, DecodeLimits? limits = null)
    {
        var face = faces.Prepare(InputImages.Decode(encoded, limits: limits), alignFace);
        return new Prepared(Preprocess(face.Image, resolution), face);
    }

    /// <summary>projector.py's transform: Resize(shorter side) then CenterCrop, ToTensor, Normalize(0.5): [3,R,R] in [-1,1].</summary>
    public static Tensor Preprocess(RgbImage image, int resolution)
    {
        // torchvision Resize(int): the shorter side becomes `resolution`, the longer one int(resolution * long / short).
        int w = image.Width <= image.Height ? resolution : (int)(resolution * (long)image.Width / image.Height);
        int h = image.Height <= image.Width ? resolution : (int)(resolution * (long)image.Height / image.Width);
        var resized = Resampler.Resize(image, w, h, ResampleFilter.Bilinear);
        int x0 = (w - resolution) / 2, y0 = (h - resolution) / 2;
        var crop = resized.Crop(x0, y0, x0 + resolution, y0 + resolution);
        return tensor(crop.ToPlanar(), [3, resolution, resolution]);
    }
}
