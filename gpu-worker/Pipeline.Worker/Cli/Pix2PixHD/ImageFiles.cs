using Pipeline.Engine.Pix2PixHD;
using SkiaSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Pix2PixHD;

/// <summary>File IO of the label2img command: exact PNG decoding for maps (engine), SkiaSharp for photos and encoding.</summary>
internal static class ImageFiles
{
    /// <summary>An 8-bit RGB photo: PNGs through the exact decoder (parity with the reference), other formats through SkiaSharp.</summary>
    public static Raster<byte> ReadPhoto(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (Png.HasSignature(bytes))
        {
            var png = Png.Decode(bytes);
            if (png.BitDepth != 8) throw new InvalidDataException($"{path}: photos must be 8-bit PNGs (this one is {png.BitDepth}-bit)");
            var planes = png.Color switch
            {
                PngColor.Rgb or PngColor.Rgba => png.Planes.Take(3).ToArray(),
                PngColor.Gray or PngColor.GrayAlpha => [png.Planes[0], png.Planes[0], png.Planes[0]],
                _ => throw new InvalidDataException($"{path}: palette photos are not supported; save it as RGB"),
            };
            return new Raster<byte>(png.Width, png.Height, planes.Select(p => p.Select(v => (byte)v).ToArray()).ToArray());
        }
        using var bmp = SKBitmap.Decode(bytes) ?? throw new InvalidDataException($"{path}: not a decodable image");
        using var rgba = bmp.Copy(SKColorType.Rgba8888) ?? throw new InvalidDataException($"{path}: cannot convert to RGBA");
        var px = rgba.Bytes;
        int n = rgba.Width * rgba.Height;
        var result = new byte[3][];
        for (int c = 0; c < 3; c++)
        {
            result[c] = new byte[n];
            for (int i = 0; i < n; i++) result[c][i] = px[4 * i + c];
        }
        return new Raster<byte>(rgba.Width, rgba.Height, result);
    }

    /// <summary>Writes an HWC (or HW) uint8 tensor as PNG, or JPEG quality 75 like test.py when the name ends in .jpg/.jpeg.</summary>
    public static void WriteImage(Tensor image, string path)
    {
        bool jpeg = path.EndsWith(".jpg", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".jpeg", StringComparison.OrdinalIgnoreCase);
        var bytes = EncodeImage(image, jpeg);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>PNG (lossless) or JPEG q75 bytes of an HWC (or HW) uint8 tensor, through the imaging library's one encoder.</summary>
    public static byte[] EncodeImage(Tensor image, bool jpeg)
    {
        var hwc = image.dim() == 2 ? image.unsqueeze(-1).expand(-1, -1, 3) : image;
        int h = (int)hwc.shape[0], w = (int)hwc.shape[1];
        var rgb = new Pipeline.Imaging.RgbImage(w, h, hwc.contiguous().cpu().data<byte>().ToArray());
        return jpeg ? rgb.EncodeJpeg(75) : rgb.EncodePng();
    }
}
