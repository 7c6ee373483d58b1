using SkiaSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>pytorch-fid's image folder: files with its extensions, sorted by path, decoded to RGB.</summary>
internal static class ImageFolder
{
    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
        { ".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp" };

    public static string[] List(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"image folder not found: {folder}");
        var files = Directory.EnumerateFiles(folder).Where(f => Extensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new InvalidDataException($"{folder} holds no images ({string.Join(", ", Extensions)})");
        return files;
    }

    /// <summary>uint8 HWC RGB (alpha dropped, like PIL's convert("RGB") for opaque images).</summary>
    public static Tensor LoadU8(string path)
    {
        using var bmp = SKBitmap.Decode(path) ?? throw new InvalidDataException($"{path}: not a decodable image");
        using var rgba = bmp.ColorType == SKColorType.Rgba8888 && bmp.AlphaType != SKAlphaType.Premul ? null : bmp.Copy(SKColorType.Rgba8888);
        var src = rgba ?? bmp;
        var px = src.Bytes;
        int w = src.Width, h = src.Height;
        var rgb = new byte[w * h * 3];
        for (int i = 0, j = 0; i < w * h; i++, j += 4)
        {
            rgb[3 * i] = px[j];
            rgb[3 * i + 1] = px[j + 1];
            rgb[3 * i + 2] = px[j + 2];
        }
        return tensor(rgb, [h, w, 3]);
    }

    /// <summary>
    /// Batches of float NCHW [0, 1] images already resized to 299 one by one (the same bilinear op pytorch-fid runs on
    /// the batch), so folders of mixed sizes work; the last partial batch is kept.
    /// </summary>
    public static async IAsyncEnumerable<Tensor> Batches(string[] files, int batch, Device device)
    {
        for (int i = 0; i < files.Length; i += batch)
        {
            var chunk = files.Skip(i).Take(batch).ToArray();
            var loaded = await Task.Run(() => chunk.AsParallel().AsOrdered().Select(LoadU8).ToArray());
            using var scope = NewDisposeScope();
            var x = cat(loaded.Select(u8 => Pipeline.Engine.Metrics.Fid.FidPreprocess.Resize299(
                Pipeline.Engine.Metrics.Fid.FidPreprocess.ToTensor(u8.to(device)))).ToArray(), 0);
            foreach (var t in loaded) t.Dispose();
            yield return x.MoveToOuterDisposeScope();
        }
    }
}
