using Pipeline.Imaging;
using Pipeline.Infra.Contracts;

namespace Pipeline.Worker.Jobs.Shared;

/// <summary>
/// Gallery previews of dataset items: datasets/&lt;batchId&gt;/thumbs/&lt;i:D5&gt;.jpg, longer side at most
/// <see cref="MaxSide"/> px with the aspect kept (SOAT panoramas are wide). Small images get a same-size copy so the
/// gallery has one code path. Made from the stored PNG, so a thumbnail shows exactly the pixels of its item.
/// </summary>
public static class Thumbnails
{
    /// <summary>Longest side of a thumbnail in pixels.</summary>
    public const int MaxSide = 128;

    /// <summary>JPEG quality: previews are small and many; 85 keeps GAN textures without visible blocking.</summary>
    public const int JpegQuality = 85;

    /// <summary>datasets/&lt;batchId&gt;/thumbs/&lt;index:D5&gt;.jpg.</summary>
    public static string PathOf(string batchId, int index) => BlobLayout.DatasetItem(batchId, $"thumbs/{index:D5}.jpg");

    /// <summary>The thumbnail size of a <paramref name="width"/> x <paramref name="height"/> image (never enlarged, each side at least 1).</summary>
    public static (int Width, int Height) SizeOf(int width, int height, int maxSide = MaxSide)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxSide);
        int longer = Math.Max(width, height);
        if (longer <= maxSide) return (width, height);
        double scale = (double)maxSide / longer;
        return (Math.Clamp((int)Math.Round(width * scale), 1, maxSide), Math.Clamp((int)Math.Round(height * scale), 1, maxSide));
    }

    /// <summary>JPEG thumbnail of an encoded image (our own PNG output), reduced with Pillow-exact Lanczos.</summary>
    public static byte[] FromEncoded(byte[] encoded, int maxSide = MaxSide)
    {
        var image = Decode(encoded);
        var (w, h) = SizeOf(image.Width, image.Height, maxSide);
        var thumb = (w, h) == (image.Width, image.Height) ? image : Resampler.Resize(image, w, h, ResampleFilter.Lanczos3);
        return thumb.EncodeJpeg(JpegQuality);
    }

    // ImageDecoder's entry for our own files: the upload limits would reject the tiny images test models make.
    private static RgbImage Decode(byte[] encoded) => ImageDecoder.DecodeFile(encoded, "thumbnail source");
}
