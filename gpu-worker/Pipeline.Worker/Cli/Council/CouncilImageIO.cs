using Pipeline.Imaging;
using Pipeline.Worker.Operations.Imaging;

namespace Pipeline.Worker.Cli.Council;

/// <summary>
/// Files of the translate and train commands: which inputs a path names, PNG writing, and decoding of training images
/// (as PIL's convert("RGB")). Translation inputs are prepared by <see cref="Operations.Translation.SelfieInput"/>, as
/// jobs prepare them; the contact sheet is <see cref="Operations.Translation.CouncilContactSheet"/>.
/// </summary>
internal static class CouncilImageIO
{
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

    /// <summary>A training image file through the pipeline's one decoder, as the reference reads it (PIL's convert("RGB")).</summary>
    public static RgbImage Decode(string path) => ImageDecoder.DecodeFile(path, RgbConversion.PilConvert);

    /// <summary>Decodes an image held in memory as the reference reads it; <paramref name="name"/> is only for messages.</summary>
    public static RgbImage Decode(byte[] bytes, string name) => ImageDecoder.DecodeFile(bytes, name, RgbConversion.PilConvert);

    /// <summary>PNG bytes (the shared encoder of jobs and CLI).</summary>
    public static byte[] EncodePng(RgbImage img) => RgbPng.Encode(img);

    public static void WritePng(RgbImage img, string path)
    {
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, EncodePng(img));
        File.Move(tmp, path, overwrite: true);
    }
}
