namespace Pipeline.Worker.Operations.Imaging;

/// <summary>PNG bytes of engine-side RGB buffers (encoded from pixels only, so no metadata is carried).</summary>
public static class RgbPng
{
    public static byte[] Encode(Pipeline.Engine.Council.RgbImage image) =>
        image.Channels == 3
            ? new Pipeline.Imaging.RgbImage(image.Width, image.Height, image.Pixels).EncodePng()
            : throw new ArgumentException($"expected an RGB image, got {image.Channels} channels");
}
