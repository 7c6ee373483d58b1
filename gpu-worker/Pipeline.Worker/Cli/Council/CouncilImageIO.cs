using Pipeline.Engine.Council;
using Pipeline.Worker.Operations.Imaging;
using SkiaSharp;

namespace Pipeline.Worker.Cli.Council;

/// <summary>
/// Files of the translate and train commands: which inputs a path names, PNG writing, and decoding of training images
/// (as PIL's convert("RGB")). Translation inputs are prepared by <see cref="Operations.Translation.SelfieInput"/>, as jobs prepare them.
/// </summary>
internal static class CouncilImageIO
{
    /// <summary>Largest accepted training image, against decompression bombs (the reference resizes to ~256 px anyway).</summary>
    public const long MaxPixels = 64L * 1024 * 1024;

    /// <summary>Formats the upload decoder takes (translate) and training reads.</summary>
    public static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".webp", ".gif"];

    /// <summary>The input images: one file, or every image under a folder (recursive) sorted by path like the reference.</summary>
    public static IReadOnlyList<string> Collect(string input)
    {
        if (File.Exists(input)) return [Path.GetFullPath(input)];
        if (!Directory.Exists(input)) throw new FileNotFoundException($"input not found: {input} (give an image file or a folder of images)");
        var files = Directory.EnumerateFiles(input, "*", SearchOption.AllDirectories)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"no images ({string.Join(", ", Extensions)}) under {input}");
        return files;
    }

    /// <summary>A training image file, as stored (no EXIF orientation, like PIL's Image.open + convert("RGB")).</summary>
    public static RgbImage Decode(string path)
    {
        using var codec = SKCodec.Create(path) ?? throw new InvalidDataException($"{path}: not an image SkiaSharp can decode");
        return Decode(codec, path);
    }

    /// <summary>Decodes an image held in memory as stored; <paramref name="name"/> is only for messages.</summary>
    public static RgbImage Decode(byte[] bytes, string name)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new InvalidDataException($"{name}: not an image SkiaSharp can decode");
        return Decode(codec, name);
    }

    private static RgbImage Decode(SKCodec codec, string path)
    {
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        if (w <= 0 || h <= 0 || (long)w * h > MaxPixels)
            throw new InvalidDataException($"{path}: {w}x{h} is outside the accepted size (at most {MaxPixels} pixels)");
        var info = new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bmp = new SKBitmap(info);
        var result = codec.GetPixels(info, bmp.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new InvalidDataException($"{path}: decoding failed ({result})");
        var rgba = bmp.Bytes;
        var rgb = new byte[w * h * 3];
        for (int i = 0, j = 0; i < rgb.Length; i += 3, j += 4)
        {
            rgb[i] = rgba[j];
            rgb[i + 1] = rgba[j + 1];
            rgb[i + 2] = rgba[j + 2];
        }
        return new RgbImage(w, h, rgb);
    }

    /// <summary>PNG bytes (the shared encoder of jobs and CLI).</summary>
    public static byte[] EncodePng(RgbImage img) => RgbPng.Encode(img);

    public static void WritePng(RgbImage img, string path)
    {
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, EncodePng(img));
        File.Move(tmp, path, overwrite: true);
    }
}
