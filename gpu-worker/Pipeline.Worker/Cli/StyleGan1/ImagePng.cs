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

    /// <summary>PNG bytes of one [3, H, W] or [1, 3, H, W] image in [-1, 1]: the worker's one encoder with save_image's rounding.</summary>
    public static byte[] Encode(Tensor image) => Pipeline.Worker.Cli.StyleGan2.Sg2Images.EncodePng(image);

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
