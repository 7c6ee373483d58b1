using Pipeline.Engine.Metrics;

namespace Pipeline.Worker.Hosting;

/// <summary>
/// Where the worker and the CLI find feature-network weights (Inception, VGG16, LPIPS heads): an explicit folder, else
/// $PIPELINE_MODELS, else the user cache. Read here, on the host side; the engine only takes the folder it is given.
/// </summary>
public static class FeatureNetworkLocation
{
    public const string Variable = "PIPELINE_MODELS";

    public static string CacheDirectory(string? explicitFolder = null) =>
        !string.IsNullOrWhiteSpace(explicitFolder) ? explicitFolder
        : Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } env ? env
        : FeatureNetworkOptions.UserCacheDirectory();

    /// <summary>The store over that folder, with explicit files per network id (inception, vgg16, lpips-vgg) first.</summary>
    public static FeatureNetworkStore Store(string? explicitFolder = null, IReadOnlyDictionary<string, string>? files = null) =>
        new(new FeatureNetworkOptions { CacheDirectory = CacheDirectory(explicitFolder), Files = files ?? new Dictionary<string, string>() });
}
