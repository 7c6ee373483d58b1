using Pipeline.Engine.Pix2PixHD;
using Pipeline.Worker.Operations.Label2Img;
using SkiaSharp;
using Pipeline.Imaging;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Pix2PixHD;

/// <summary>File IO of the label2img command: photos (exact PNG decoder, else SkiaSharp) and output files (encoded by <see cref="Label2ImgInput"/>).</summary>
internal static class ImageFiles
{
    /// <summary>An 8-bit RGB photo through the pipeline's one decoder, as the reference reads it (PIL's convert("RGB")).</summary>
    public static RgbImage ReadPhoto(string path) => ImageDecoder.DecodeFile(path, RgbConversion.PilConvert);

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
