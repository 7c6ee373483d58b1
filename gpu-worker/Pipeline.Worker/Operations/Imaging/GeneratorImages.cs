using Pipeline.Imaging;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Imaging;

/// <summary>Generator output ([-1, 1] RGB tensors) to PNG bytes, and grids of them: the one encoder of jobs and CLI.</summary>
public static class GeneratorImages
{
    /// <summary>[3,H,W] or [1,3,H,W] in [-1,1] -> RGB PNG through the imaging library's one encoder (save_image's clamp + (x+1)/2*255 rounding).</summary>
    public static byte[] EncodePng(Tensor image)
    {
        if (image.dim() == 4) image = image[0];
        using var scope = NewDisposeScope();
        var hwc = ((image.detach().to(float32).cpu().clamp(-1, 1) + 1) * 127.5 + 0.5).floor().clamp(0, 255).to(ScalarType.Byte).permute(1, 2, 0);
        int h = (int)hwc.shape[0], w = (int)hwc.shape[1];
        return new RgbImage(w, h, hwc.contiguous().data<byte>().ToArray()).EncodePng();
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
