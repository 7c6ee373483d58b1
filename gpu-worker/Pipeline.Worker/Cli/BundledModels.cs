namespace Pipeline.Worker.Cli;

/// <summary>
/// The small models committed under <c>models/</c> (trained here on the built-in synthetic data): the demo publishes
/// them and CLI commands use them when no model is given. One place knows their names.
/// </summary>
internal static class BundledModels
{
    /// <summary>The repository's models/ folder (the CLI runs from source), or models/ beside a published tool.</summary>
    public static string Folder { get; } = FindFolder();

    /// <summary>The bundled StyleGAN2 generator checkpoint (a sibling <c>*.encoder.pt</c> is not a generator).</summary>
    public static string StyleGan2 => First(Directory.Exists(Folder)
        ? Directory.GetFiles(Folder, "stylegan2-*.pt").Where(f => !f.EndsWith(".encoder.pt", StringComparison.Ordinal))
        : [], "stylegan2-synthfaces-64.pt");

    /// <summary>The bundled StyleGAN v1 checkpoint (train.py's 5-key dict; the gallery's paintings and mixing grids).</summary>
    public static string StyleGan1 => First(Directory.Exists(Folder) ? Directory.GetFiles(Folder, "stylegan1-*.pt") : [], "stylegan1-synthpaintings-32.pt");

    /// <summary>The bundled Council GAN folder (members, config.yaml).</summary>
    public static string Council => First(Directory.Exists(Folder) ? Directory.GetDirectories(Folder, "council-*") : [], "council-synthfaces-64");

    /// <summary>The bundled pix2pixHD model folder (latest_net_G.pth, opt.txt), as the reference saves one.</summary>
    public static string Pix2PixHD => Path.Combine(Folder, "pix2pixhd");

    /// <summary>Whether <paramref name="path"/> is one of the bundled models (for messages that say where a result came from).</summary>
    public static bool IsBundled(string path) =>
        Path.GetFullPath(path).StartsWith(Path.GetFullPath(Folder) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The first match in name order, else the expected path, so a missing model is named in the error.</summary>
    private static string First(IEnumerable<string> found, string expected) =>
        found.Order(StringComparer.Ordinal).FirstOrDefault() ?? Path.Combine(Folder, expected);

    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return Path.Combine(dir.FullName, "models");
        return Path.Combine(AppContext.BaseDirectory, "models");
    }
}
