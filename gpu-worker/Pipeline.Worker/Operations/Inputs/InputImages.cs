using Pipeline.Imaging;

namespace Pipeline.Worker.Operations.Inputs;

/// <summary>
/// Decoding of uploaded images for every operation, job or CLI: the guarded upload decoder (format sniffing, size
/// limits, EXIF orientation applied, alpha flattened). A rejection is an <see cref="UnusableInputException"/>.
/// </summary>
public static class InputImages
{
    /// <summary>
    /// Limits for files a CLI user names on their own machine (<see cref="DecodeLimits.LocalFiles"/>: no upload minimum
    /// side or byte cap), so small generated images can be used. Decoding itself is identical.
    /// </summary>
    public static DecodeLimits LocalFiles => DecodeLimits.LocalFiles;

    /// <param name="limits">Null: the upload limits (<see cref="DecodeLimits.Default"/>), what jobs use.</param>
    public static RgbImage Decode(byte[] bytes, int targetMaxSide = 2048, DecodeLimits? limits = null)
    {
        try
        {
            return ImageDecoder.DecodeOrThrow(bytes, limits, targetMaxSide).Image;
        }
        catch (ImageRejectedException e)
        {
            throw new UnusableInputException($"input image rejected ({e.Rejection.Code}): {e.Rejection.Message}", e);
        }
    }
}
