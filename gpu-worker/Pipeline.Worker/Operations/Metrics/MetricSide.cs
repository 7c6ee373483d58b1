using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Metrics;

/// <summary>
/// One side of a two-sided metric (`pipeline fid A B`, `kid A B`): a stored .npz (statistics, or feature rows for KID)
/// or images. Image sources are opened only when the evaluation reads them, after the feature network loaded, so
/// absent weights are reported as such even when a folder is also unusable.
/// </summary>
public sealed record MetricSide(string Source, string? StoredFile, Func<int, Device, IAsyncEnumerable<Tensor>>? Images, Func<long>? Count)
{
    public static MetricSide Stored(string path) => new(path, path, null, null);

    /// <summary>A pytorch-fid image folder (<see cref="MetricImages"/>).</summary>
    public static MetricSide Folder(string folder) => new(folder, null,
        (batch, dev) => MetricImages.Batches(MetricImages.List(folder), batch, dev), () => MetricImages.List(folder).Length);

    /// <summary>A path is a stored side when it is an existing .npz file, else an image folder.</summary>
    public static MetricSide Parse(string path) =>
        File.Exists(path) && path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase) ? Stored(path) : Folder(path);
}
