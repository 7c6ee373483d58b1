using System.Runtime.InteropServices;
using SkiaSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan1;

/// <summary>Generator output ([-1, 1] RGB tensors) to PNG files, and grids of them.</summary>
public static class ImagePng
{
    /// <summary>[3, H, W] or [1, 3, H, W] in [-1, 1] (clamped, like torchvision's save_image with range (-1, 1)) to a PNG file, atomically.</summary>
    public static void Write(Tensor image, string path)
    {
        var png = Encode(image);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, png);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>PNG bytes of one [3, H, W] or [1, 3, H, W] image in [-1, 1].</summary>
    public static byte[] Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        var img = image.dim() == 4 ? image[0] : image;
        var bytes = ((img.detach().cpu().to(float32).clamp(-1, 1) + 1) * 127.5).round().to(uint8).permute(1, 2, 0).contiguous();
        int h = (int)bytes.shape[0], w = (int)bytes.shape[1];
        var rgb = bytes.data<byte>().ToArray();
        var rgba = new byte[w * h * 4];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgba[j] = rgb[i];
            rgba[j + 1] = rgb[i + 1];
            rgba[j + 2] = rgb[i + 2];
            rgba[j + 3] = 255;
        }
        using var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque));
        Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>
    /// Tiles images ([N, 3, S, S], row-major, nRows x nCols) into one [3, H, W] tensor with a black gutter of
    /// <paramref name="padding"/> px around every tile (torchvision make_grid's layout).
    /// </summary>
    public static Tensor Tile(Tensor images, int nRows, int nCols, int padding)
    {
        long s = images.shape[2];
        long step = s + padding;
        var grid = full(3, nRows * step + padding, nCols * step + padding, -1f);
        for (int r = 0; r < nRows; r++)
            for (int c = 0; c < nCols; c++)
            {
                long y = padding + r * step, x = padding + c * step;
                grid[.., (int)y..(int)(y + s), (int)x..(int)(x + s)] = images[r * nCols + c].cpu();
            }
        return grid;
    }
}
