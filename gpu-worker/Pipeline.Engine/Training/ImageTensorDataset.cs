using Pipeline.Engine.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Training;

/// <summary>
/// A training set of equally sized RGB images kept as one uint8 tensor [N, 3, S, S] (a quarter of float32's memory),
/// with a safetensors cache so decoding and resizing happen once. Decoding files is the caller's job (the worker
/// uses SkiaSharp); batches come out as float32 in [-1, 1] (ToTensor + Normalize(0.5, 0.5)).
/// </summary>
public sealed class ImageTensorDataset : IDisposable
{
    private readonly Tensor _images;

    public ImageTensorDataset(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != 3 || images.shape[2] != images.shape[3])
            throw new ArgumentException($"expected uint8 images [N, 3, S, S], got [{string.Join(", ", images.shape)}]");
        if (images.dtype != ScalarType.Byte) throw new ArgumentException($"expected uint8 images, got {images.dtype}");
        if (images.shape[0] == 0) throw new ArgumentException("the dataset is empty");
        _images = images.contiguous().DetachFromDisposeScope();
    }

    public long Count => _images.shape[0];
    public int Size => (int)_images.shape[2];

    /// <summary>The stored uint8 images [N, 3, S, S].</summary>
    public Tensor Images => _images;

    /// <summary>Builds from H×W×3 byte buffers that are already S×S (the caller resized them).</summary>
    public static ImageTensorDataset FromRgb(IReadOnlyList<byte[]> rgb, int size)
    {
        var all = new byte[rgb.Count * 3L * size * size];
        int plane = size * size;
        for (int n = 0; n < rgb.Count; n++)
        {
            if (rgb[n].Length != plane * 3) throw new ArgumentException($"image {n} has {rgb[n].Length} bytes, expected {plane * 3} ({size}x{size}x3)");
            long o = (long)n * 3 * plane;
            for (int p = 0; p < plane; p++)
            {
                all[o + p] = rgb[n][3 * p];
                all[o + plane + p] = rgb[n][3 * p + 1];
                all[o + 2 * plane + p] = rgb[n][3 * p + 2];
            }
        }
        using var t = tensor(all, [rgb.Count, 3, size, size], ScalarType.Byte);
        return new ImageTensorDataset(t.clone());
    }

    /// <summary>
    /// The images at <paramref name="indices"/> as float32 in [-1, 1]; each image is flipped left-right with probability 0.5 when <paramref name="hflip"/> (RandomHorizontalFlip).
    /// </summary>
    public Tensor Batch(IReadOnlyList<long> indices, Random random, bool hflip = true, Device? device = null)
    {
        using var scope = NewDisposeScope();
        var idx = tensor(indices.ToArray());
        var x = _images.index_select(0, idx).to(float32).div_(127.5).sub_(1);
        if (hflip)
        {
            var flip = indices.Select(_ => random.NextDouble() < 0.5).ToArray();
            if (flip.Any(f => f))
            {
                var mask = tensor(flip).reshape(-1, 1, 1, 1);
                x = where(mask, x.flip(3), x);
            }
        }
        return scope.MoveToOuter(device is null ? x : x.to(device));
    }

    /// <summary>Endless shuffled epochs with drop_last (train.py's sample_data over a shuffled DataLoader).</summary>
    public IEnumerable<long[]> Batches(int batch, Random random)
    {
        if (batch > Count) throw new ArgumentException($"batch {batch} is larger than the dataset ({Count} images)");
        while (true)
        {
            var order = Enumerable.Range(0, (int)Count).Select(i => (long)i).ToArray();
            random.Shuffle(order);
            for (int s = 0; s + batch <= order.Length; s += batch)
                yield return order[s..(s + batch)];
        }
    }

    /// <summary>Writes the cache file (safetensors, key "images", metadata as given).</summary>
    public void Save(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var tensors = new Dictionary<string, Tensor> { ["images"] = _images };
        SafeTensors.Save(path, tensors, metadata);
    }

    /// <summary>Reads a cache written by <see cref="Save"/>; null when absent or when its metadata differ from <paramref name="expected"/>.</summary>
    public static ImageTensorDataset? TryLoad(string path, IReadOnlyDictionary<string, string>? expected = null)
    {
        if (!File.Exists(path)) return null;
        var (tensors, meta) = SafeTensors.LoadWithMetadata(path);
        if (expected is not null && expected.Any(kv => !meta.TryGetValue(kv.Key, out var v) || v != kv.Value)) return null;
        return tensors.TryGetValue("images", out var t) ? new ImageTensorDataset(t) : null;
    }

    public void Dispose() => _images.Dispose();
}
