using Pipeline.Imaging;

namespace Pipeline.Worker.Jobs.Shared;

/// <summary>Decoding of job inputs. The functions validated them already, so a failure here is permanent.</summary>
public static class InputImages
{
    public static RgbImage Decode(byte[] bytes, int targetMaxSide = 2048)
    {
        try
        {
            return ImageDecoder.DecodeOrThrow(bytes, null, targetMaxSide).Image;
        }
        catch (ImageRejectedException e)
        {
            throw new PermanentJobException($"input image rejected ({e.Rejection.Code}): {e.Rejection.Message}", e);
        }
    }
}
