namespace Pipeline.Worker.Jobs.Shared;

/// <summary>PNG bytes of engine-side RGB buffers (encoded from pixels only, so no metadata is carried).</summary>
public static class Png
{
    public static byte[] Encode(Pipeline.Imaging.RgbImage image) => image.EncodePng();
}
