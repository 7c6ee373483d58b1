using Pipeline.Imaging;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>PNG in/out for generator tensors ([-1, 1] NCHW RGB), contact sheets, and projector target loading.</summary>
internal static class Sg2Images
{
    /// <summary>[3,H,W] or [1,3,H,W] in [-1,1] -> RGB PNG (save_image's clamp + (x+1)/2*255 rounding).</summary>
    public static void SavePng(Tensor image, string path)
    {
        var png = EncodePng(image);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, png);
    }

    /// <summary>PNG bytes of [3,H,W] or [1,3,H,W] in [-1,1].</summary>
    public static byte[] EncodePng(Tensor image)
    {
        if (image.dim() == 4) image = image[0];
        using var scope = NewDisposeScope();
        var hwc = ((image.detach().to(float32).cpu().clamp(-1, 1) + 1) * 127.5 + 0.5).floor().clamp(0, 255).to(ScalarType.Byte).permute(1, 2, 0);
        int h = (int)hwc.shape[0], w = (int)hwc.shape[1];
        return new RgbImage(w, h, hwc.contiguous().data<byte>().ToArray()).EncodePng();
    }

    /// <summary>Tiles [N,3,H,W] into a grid with <paramref name="columns"/> columns and a 2-px dark border.</summary>
    public static Tensor ContactSheet(Tensor images, int columns)
    {
        long n = images.shape[0], h = images.shape[2], w = images.shape[3];
        int cols = (int)Math.Min(columns, n), rows = (int)((n + cols - 1) / cols);
        const int pad = 2;
        var sheet = full([3, rows * (h + pad) + pad, cols * (w + pad) + pad], -1f);
        for (int i = 0; i < n; i++)
        {
            long y = pad + (i / cols) * (h + pad), x = pad + (i % cols) * (w + pad);
            sheet[TensorIndex.Colon, TensorIndex.Slice(y, y + h), TensorIndex.Slice(x, x + w)] = images[i].detach().cpu().clamp(-1, 1);
        }
        return sheet;
    }

    /// <summary>
    /// projector.py's target transform: resize the shorter side to <paramref name="size"/> (bilinear), center crop,
    /// to [-1, 1] -> [1, 3, size, size]. Throws InvalidDataException for files that are not decodable images.
    /// </summary>
    public static Tensor LoadTarget(string path, int size)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"image not found: {path}", path);
        return LoadTarget(File.ReadAllBytes(path), size, path);
    }

    /// <summary><see cref="LoadTarget(string, int)"/> for encoded image bytes.</summary>
    public static Tensor LoadTarget(byte[] encoded, int size, string what)
    {
        var path = what;
        using var src = ImageDecoder.DecodeFile(encoded, path).ToSKBitmap();
        double scale = (double)size / Math.Min(src.Width, src.Height);
        int rw = Math.Max(size, (int)Math.Round(src.Width * scale)), rh = Math.Max(size, (int)Math.Round(src.Height * scale));
        using var resized = src.Resize(new SKImageInfo(rw, rh, SKColorType.Rgba8888, SKAlphaType.Unpremul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear))
            ?? throw new InvalidDataException($"could not resize {path}");
        int x0 = (rw - size) / 2, y0 = (rh - size) / 2;
        var px = new byte[size * size * 3];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                var c = resized.GetPixel(x0 + x, y0 + y);
                int o = (y * size + x) * 3;
                px[o] = c.Red; px[o + 1] = c.Green; px[o + 2] = c.Blue;
            }
        var t = tensor(px, [size, size, 3]).to(float32).permute(2, 0, 1) / 255.0;
        return ((t - 0.5) / 0.5).unsqueeze(0);
    }
}
