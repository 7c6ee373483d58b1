using Pipeline.Worker.Operations.Imaging;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>PNG files of generator tensors ([-1, 1] NCHW RGB) and contact sheets for the StyleGAN2 commands (encoding: <see cref="GeneratorImages"/>).</summary>
internal static class Sg2Images
{
    /// <summary>[3,H,W] or [1,3,H,W] in [-1,1] -> RGB PNG (save_image's clamp + (x+1)/2*255 rounding).</summary>
    public static void SavePng(Tensor image, string path)
    {
        var png = GeneratorImages.EncodePng(image);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllBytes(path, png);
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
}
