using Pipeline.Imaging;
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

    /// <summary>uint8 HWC RGB through the pipeline's one decoder, as pytorch-fid reads it (PIL's convert("RGB")).</summary>
    public static Tensor LoadU8(string path)
    {
        var img = ImageDecoder.DecodeFile(path, RgbConversion.PilConvert);
        return tensor(img.Pixels, [img.Height, img.Width, 3]);
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
