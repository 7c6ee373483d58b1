using System.Globalization;
using Pipeline.Engine.Training;
using Pipeline.Imaging;
using Pipeline.Imaging.Synthetic;
using Pipeline.Worker.Cli.Council;
using SkiaSharp;
using Spectre.Console;

namespace Pipeline.Worker.Cli.Training;

/// <summary>The built-in synthetic domains.</summary>
public enum SyntheticKind
{
    FacesPhoto,
    FacesAnime,
    Landscapes,
    Paintings,
}

/// <summary>Turns image folders and the synthetic generators into <see cref="ImageTensorDataset"/>s (decoding lives here, not in the engine).</summary>
internal static class TrainingData
{
    public static SyntheticKind ParseKind(string text) => text.ToLowerInvariant() switch
    {
        "faces" or "faces-photo" or "photo" => SyntheticKind.FacesPhoto,
        "faces-anime" or "anime" => SyntheticKind.FacesAnime,
        "landscapes" or "landscape" => SyntheticKind.Landscapes,
        "paintings" or "painting" => SyntheticKind.Paintings,
        _ => throw new ArgumentException($"unknown synthetic kind '{text}' (faces-photo, faces-anime, landscapes, paintings)"),
    };

    public static string Name(SyntheticKind k) => k switch
    {
        SyntheticKind.FacesPhoto => "faces-photo",
        SyntheticKind.FacesAnime => "faces-anime",
        SyntheticKind.Paintings => "paintings",
        _ => "landscapes",
    };

    /// <summary>One synthetic S×S RGB image (H×W×3 bytes), deterministic by seed.</summary>
    public static byte[] DrawRgb(SyntheticKind kind, int seed, int size)
    {
        if (kind == SyntheticKind.Landscapes)
        {
            // Scenes are drawn at 4x and box-filtered down so small training sizes are not aliased.
            var scene = SyntheticLandscapes.Draw(seed, size * 4, size * 4);
            return BoxDown(scene.Rgb, size * 4, 4);
        }
        if (kind == SyntheticKind.Paintings)
            return BoxDown(SyntheticPaintings.Draw(seed, size * 4), size * 4, 4);
        int drawSize = Math.Max(size, 64);
        using var bmp = SyntheticFaces.Draw(seed, kind == SyntheticKind.FacesPhoto ? FaceStyle.PhotoLike : FaceStyle.AnimeLike, drawSize);
        var rgb = ToRgb(bmp);
        if (drawSize == size) return rgb;
        return Resampler.Resize(new RgbImage(drawSize, drawSize, rgb), size, size, ResampleFilter.Bilinear).Pixels;
    }

    /// <summary>
    /// Landscape <paramref name="seed"/> at S×S with its label map: the photo as <see cref="DrawRgb"/> draws it (4x,
    /// box-filtered) and the labels of the same 4x scene sampled at each block's centre pixel (PIL NEAREST's choice for
    /// an exact 4:1 reduction), so ids stay ids and line up with the photo.
    /// </summary>
    public static (byte[] Rgb, byte[] Labels) DrawLandscapePair(int seed, int size)
    {
        var scene = SyntheticLandscapes.Draw(seed, size * 4, size * 4);
        var labels = new byte[size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                labels[y * size + x] = scene.Labels[(y * 4 + 2) * size * 4 + x * 4 + 2];
        return (BoxDown(scene.Rgb, size * 4, 4), labels);
    }

    private static byte[] ToRgb(SKBitmap bmp)
    {
        var rgba = bmp.Bytes;
        var rgb = new byte[bmp.Width * bmp.Height * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return rgb;
    }

    private static byte[] BoxDown(byte[] rgb, int size, int f)
    {
        int o = size / f;
        var result = new byte[o * o * 3];
        for (int y = 0; y < o; y++)
            for (int x = 0; x < o; x++)
                for (int c = 0; c < 3; c++)
                {
                    int sum = 0;
                    for (int dy = 0; dy < f; dy++)
                        for (int dx = 0; dx < f; dx++)
                            sum += rgb[((y * f + dy) * size + x * f + dx) * 3 + c];
                    result[(y * o + x) * 3 + c] = (byte)((sum + f * f / 2) / (f * f));
                }
        return result;
    }

    /// <summary>Images seed0 .. seed0+count-1 of a synthetic domain.</summary>
    public static ImageTensorDataset Synthetic(SyntheticKind kind, int count, int size, int seed0 = 0)
    {
        var images = new byte[count][];
        AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask($"drawing {count} {Name(kind)} images", maxValue: count);
            Parallel.For(0, count, i => { images[i] = DrawRgb(kind, seed0 + i, size); task.Increment(1); });
        });
        return ImageTensorDataset.FromRgb(images, size);
    }

    /// <summary>
    /// An image folder resized (shorter side, bilinear) and centre-cropped to S×S, cached as uint8 tensors in
    /// <paramref name="cacheFile"/>; the cache is rebuilt when the file list, sizes or times change.
    /// </summary>
    public static ImageTensorDataset Folder(string folder, int size, string cacheFile)
    {
        var files = CouncilImageIO.Collect(folder);
        var fingerprint = new Dictionary<string, string>
        {
            ["size"] = size.ToString(CultureInfo.InvariantCulture),
            ["files"] = Fingerprint(files),
        };
        if (ImageTensorDataset.TryLoad(cacheFile, fingerprint) is { } cached)
        {
            AnsiConsole.MarkupLineInterpolated($"[grey]using cached tensors {cacheFile} ({cached.Count} images)[/]");
            return cached;
        }
        var images = new byte[files.Count][];
        var failed = new List<string>();
        AnsiConsole.Progress().AutoClear(true).Start(ctx =>
        {
            var task = ctx.AddTask($"decoding {files.Count} images", maxValue: files.Count);
            Parallel.For(0, files.Count, i =>
            {
                try { images[i] = TorchvisionTransforms.ResizeAndCenterCrop(CouncilImageIO.Decode(files[i]), size, size, size).Pixels; }
                catch (InvalidDataException e) { lock (failed) failed.Add(e.Message); }
                task.Increment(1);
            });
        });
        foreach (var f in failed) AnsiConsole.MarkupLineInterpolated($"[yellow]skipped:[/] {f}");
        var ok = images.Where(b => b is not null).ToList();
        if (ok.Count == 0) throw new InvalidDataException($"no decodable images under {folder}");
        var data = ImageTensorDataset.FromRgb(ok, size);
        data.Save(cacheFile, fingerprint);
        return data;
    }

    private static string Fingerprint(IReadOnlyList<string> files)
    {
        using var h = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var f in files)
        {
            var info = new FileInfo(f);
            h.AppendData(System.Text.Encoding.UTF8.GetBytes($"{f}|{info.Length}|{info.LastWriteTimeUtc.Ticks}\n"));
        }
        return Convert.ToHexString(h.GetHashAndReset());
    }
}
