using Pipeline.Engine.Pix2PixHD;
using Pipeline.Worker.Operations.Label2Img;
using SkiaSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Pix2PixHD;

/// <summary>File IO of the label2img command: photos (exact PNG decoder, else SkiaSharp) and output files (encoded by <see cref="Label2ImgInput"/>).</summary>
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
        var bytes = Label2ImgInput.Encode(image, jpeg);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }
}
