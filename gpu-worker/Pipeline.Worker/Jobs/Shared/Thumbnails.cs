using System.Runtime.InteropServices;
using Pipeline.Imaging;
using Pipeline.Infra.Contracts;
using SkiaSharp;

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

    // Not ImageDecoder: that one guards untrusted uploads and rejects the tiny images test models make.
    private static RgbImage Decode(byte[] encoded)
    {
        using var codec = SKCodec.Create(new SKMemoryStream(encoded)) ?? throw new InvalidDataException("thumbnail source is not a decodable image");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        var handle = GCHandle.Alloc(rgba, GCHandleType.Pinned);
        try
        {
            var result = codec.GetPixels(info, handle.AddrOfPinnedObject());
            if (result != SKCodecResult.Success) throw new InvalidDataException($"thumbnail source did not decode: {result}");
        }
        finally { handle.Free(); }
        return RgbImage.FromRgba(rgba, info.Width, info.Height);
    }
}
