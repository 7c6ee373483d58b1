using Pipeline.Imaging.Labels;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Label2Img;

/// <summary>
/// The one preparation and encoding of pix2pixHD label -> image, for translation jobs (Pix2PixHdLabelToImage) and
/// `pipeline label2img` alike: the label map (and optional instance map) through the exact PNG decoder and its checks,
/// and the output's encoding.
/// </summary>
public static class Label2ImgInput
{
    /// <summary>Validated maps. Throws <see cref="InvalidLabelMapException"/> for a map the model cannot use.</summary>
    public sealed record Maps(IdMap Labels, IdMap? Instances, LabelMapInfo Info);

    public static Maps Read(byte[] labels, byte[]? instances, int labelNc)
    {
        var (map, info) = LabelMaps.ReadLabels(labels, labelNc);
        return new Maps(map, instances is null ? null : LabelMaps.ReadInstances(instances, info), info);
    }

    /// <summary>PNG (lossless) or JPEG q75 (test.py's) bytes of an HWC (or HW) uint8 tensor, through the imaging library's one encoder.</summary>
    public static byte[] Encode(Tensor image, bool jpeg)
    {
        var hwc = image.dim() == 2 ? image.unsqueeze(-1).expand(-1, -1, 3) : image;
        int h = (int)hwc.shape[0], w = (int)hwc.shape[1];
        var rgb = new Pipeline.Imaging.RgbImage(w, h, hwc.contiguous().cpu().data<byte>().ToArray());
        return jpeg ? rgb.EncodeJpeg(75) : rgb.EncodePng();
    }
}
