namespace Pipeline.Worker.Operations.Imaging;

/// <summary>PNG bytes of engine-side RGB buffers (encoded from pixels only, so no metadata is carried).</summary>
public static class RgbPng
{
    public static byte[] Encode(Pipeline.Imaging.RgbImage image) => image.EncodePng();
}
