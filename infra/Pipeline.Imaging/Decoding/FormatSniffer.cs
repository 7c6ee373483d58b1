using System.Text;

namespace Pipeline.Imaging;

/// <summary>Identifies uploads by their first bytes. The file name and the declared content type are never trusted.</summary>
public static class FormatSniffer
{
    private static ReadOnlySpan<byte> PngSignature => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The accepted format, or a rejection saying what the bytes look like instead.</summary>
    public static ImageResult<object> Sniff(ReadOnlySpan<byte> b, out ImageFormat format)
    {
        format = default;
        if (b.IsEmpty) return ImageResult<object>.Reject(RejectionCodes.NotAnImage, "The upload is empty (0 bytes).");
        if (b.Length >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return Accept(ImageFormat.Jpeg, out format);
        if (b.StartsWith(PngSignature)) return Accept(ImageFormat.Png, out format);
        if (b.Length >= 12 && b[..4].SequenceEqual("RIFF"u8) && b.Slice(8, 4).SequenceEqual("WEBP"u8)) return Accept(ImageFormat.Webp, out format);
        if (b.StartsWith("GIF87a"u8) || b.StartsWith("GIF89a"u8)) return Accept(ImageFormat.Gif, out format);

        var other = KnownOther(b);
        if (other is not null)
            return ImageResult<object>.Reject(RejectionCodes.UnsupportedFormat, $"{other} images are not accepted; upload JPEG, PNG, WebP or GIF.");
        if (LooksLikeMarkup(b))
            return ImageResult<object>.Reject(RejectionCodes.NotAnImage, "The upload is markup or text (SVG/HTML/XML), not a raster image.");
        return ImageResult<object>.Reject(RejectionCodes.NotAnImage, "The upload is not a JPEG, PNG, WebP or GIF image (unrecognised signature).");
    }

    private static ImageResult<object> Accept(ImageFormat f, out ImageFormat format)
    {
        format = f;
        return ImageResult<object>.Ok(f);
    }

    private static string? KnownOther(ReadOnlySpan<byte> b)
    {
        if (b.Length >= 12 && b.Slice(4, 4).SequenceEqual("ftyp"u8))
        {
            var brand = Encoding.ASCII.GetString(b.Slice(8, 4));
            return brand.StartsWith("avi", StringComparison.Ordinal) ? "AVIF" : brand.StartsWith("mif", StringComparison.Ordinal) || brand.StartsWith("he", StringComparison.Ordinal) ? "HEIC/HEIF" : "ISO media (" + brand + ")";
        }
        if (b.StartsWith("BM"u8) && b.Length >= 14) return "BMP";
        if (b.StartsWith("II*\0"u8) || b.StartsWith("MM\0*"u8)) return "TIFF";
        if (b.Length >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 1 && b[3] == 0) return "ICO";
        if (b.StartsWith("%PDF"u8)) return "PDF";
        if (b.StartsWith("8BPS"u8)) return "PSD";
        if (b.Length >= 12 && b[..4].SequenceEqual((ReadOnlySpan<byte>)[0, 0, 0, 0x0C]) && b.Slice(4, 4).SequenceEqual("jP  "u8)) return "JPEG 2000";
        return null;
    }

    private static bool LooksLikeMarkup(ReadOnlySpan<byte> b)
    {
        // Skip a UTF-8 BOM and leading whitespace; markup starts with '<'.
        if (b.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) b = b[3..];
        int i = 0;
        while (i < b.Length && i < 4096 && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n')) i++;
        return i < b.Length && b[i] == '<';
    }
}
