using System.Runtime.CompilerServices;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Imaging;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Metrics;

/// <summary>
/// Images for the feature networks, read as pytorch-fid reads an image folder: one decoder (PIL's convert("RGB")), one
/// preprocessing, for `pipeline fid/kid/stats` folders and a metrics job's dataset batch alike, so the same files give
/// the same features from both.
/// </summary>
public static class MetricImages
{
    private static readonly HashSet<string> Extensions = new(StringComparer.OrdinalIgnoreCase)
        { ".bmp", ".jpg", ".jpeg", ".pgm", ".png", ".ppm", ".tif", ".tiff", ".webp" };

    /// <summary>pytorch-fid's image folder: files with its extensions, sorted by path.</summary>
    public static string[] List(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"image folder not found: {folder}");
        var files = Directory.EnumerateFiles(folder).Where(f => Extensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new InvalidDataException($"{folder} holds no images ({string.Join(", ", Extensions)})");
        return files;
    }

    /// <summary>uint8 HWC RGB of a file through the pipeline's one decoder.</summary>
    public static Tensor LoadU8(string path) => U8(ImageDecoder.DecodeFile(path, RgbConversion.PilConvert));

    /// <summary>uint8 HWC RGB of encoded bytes (<paramref name="name"/> names them in errors).</summary>
    public static Tensor LoadU8(byte[] bytes, string name) => U8(ImageDecoder.DecodeFile(bytes, name, RgbConversion.PilConvert));

    private static Tensor U8(RgbImage img) => tensor(img.Pixels, [img.Height, img.Width, 3]);

    /// <summary>The files of a folder list as batches (<see cref="Batches(int, Func{int, CancellationToken, Task{(byte[], string)}}, int, Device, CancellationToken)"/>).</summary>
    public static IAsyncEnumerable<Tensor> Batches(string[] files, int batch, Device device, CancellationToken ct = default) =>
        Batches(files.Length, async (i, c) => (await File.ReadAllBytesAsync(files[i], c), files[i]), batch, device, ct);

    /// <summary>
    /// Batches (owned by the consumer) of float NCHW [0, 1] images already resized to 299 one by one (the same bilinear op
    /// pytorch-fid runs on the batch), so sources of mixed sizes work; the last partial batch is kept.
    /// <paramref name="read"/> gives image i's bytes and a name for errors.
    /// </summary>
    public static async IAsyncEnumerable<Tensor> Batches(int count, Func<int, CancellationToken, Task<(byte[] Bytes, string Name)>> read, int batch,
        Device device, [EnumeratorCancellation] CancellationToken ct = default)
    {
        batch = Math.Max(1, Math.Min(batch, count));
        for (int i = 0; i < count; i += batch)
        {
            ct.ThrowIfCancellationRequested();
            var encoded = new List<(byte[] Bytes, string Name)>();
            for (int k = i; k < Math.Min(i + batch, count); k++) encoded.Add(await read(k, ct));
            var loaded = await Task.Run(() => encoded.AsParallel().AsOrdered().Select(e => LoadU8(e.Bytes, e.Name)).ToArray(), ct);
            yield return Preprocess(loaded, device);
        }
    }

    /// <summary>Synchronous, so its dispose scope never spans an await (scopes are per thread).</summary>
    private static Tensor Preprocess(Tensor[] loaded, Device device)
    {
        using var scope = NewDisposeScope();
        var x = cat(loaded.Select(u8 => FidPreprocess.Resize299(FidPreprocess.ToTensor(u8.to(device)))).ToArray(), 0);
        foreach (var t in loaded) t.Dispose();
        return x.MoveToOuterDisposeScope();
    }
}
