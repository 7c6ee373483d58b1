using Pipeline.Imaging;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Pix2PixHD;

/// <summary>File IO of the label2img command: photos through ImageDecoder, encoding through RgbImage (maps: Pipeline.Imaging.Labels).</summary>
internal static class ImageFiles
{
    /// <summary>An 8-bit RGB photo through the pipeline's one decoder, as the reference reads it (PIL's convert("RGB")).</summary>
    public static RgbImage ReadPhoto(string path) => ImageDecoder.DecodeFile(path, RgbConversion.PilConvert);

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
        var rgb = new RgbImage(w, h, hwc.contiguous().cpu().data<byte>().ToArray());
        return jpeg ? rgb.EncodeJpeg(75) : rgb.EncodePng();
    }
}
