using System.Text.Json;
using Pipeline.Engine.IO;
using static TorchSharp.torch;

namespace Pipeline.Engine.Metrics.Fid;

/// <summary>How a statistics file was made, stored beside it as &lt;file&gt;.json so reference stats are reused only when they fit.</summary>
public sealed record FidStatsInfo
{
    public string? FeatureNetworkSha256 { get; init; }
    public int Dims { get; init; } = 2048;
    /// <summary>e.g. "pytorch-fid: ToTensor, bilinear 299 no antialias, 2x-1".</summary>
    public string Preprocessing { get; init; } = FidFeatureExtractor.PreprocessingDescription;
    public long Count { get; init; }
    public string? Source { get; init; }
    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// pytorch-fid statistics files: .npz with float64 `mu` (D) and `sigma` (D, D), optionally `feats` (N, D), the feature
/// rows KID needs. pytorch-fid reads only mu and sigma, so such files stay valid pytorch-fid statistics.
/// </summary>
public static class FidStatsFile
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public const string FeaturesKey = "feats";

    /// <summary>Writes mu and sigma, and <paramref name="features"/> as `feats` when given (for KID).</summary>
    public static void Save(string path, GaussianStats stats, FidStatsInfo? info = null, Tensor? features = null)
    {
        using var scope = NewDisposeScope();
        if (features is not null && (features.dim() != 2 || features.shape[1] != stats.Dims || features.shape[0] != stats.Count))
            throw new ArgumentException($"features [{string.Join(", ", features.shape)}] do not match statistics of {stats.Count} x {stats.Dims}", nameof(features));
        var arrays = new List<KeyValuePair<string, Tensor>> { new("mu", stats.MuTensor()), new("sigma", stats.SigmaTensor()) };
        if (features is not null) arrays.Add(new(FeaturesKey, features.detach().cpu().contiguous()));
        Npz.Save(path, arrays);
        if (info is not null)
            File.WriteAllText(path + ".json", JsonSerializer.Serialize(info with { Count = stats.Count, Dims = stats.Dims }, Json));
    }

    /// <summary>Reads any .npz holding mu and sigma (pytorch-fid --save-stats files included).</summary>
    public static GaussianStats Load(string path)
    {
        var arrays = Npz.Load(path, name => name is "mu" or "sigma"); // feats can be 400 MB and FID does not need them
        try
        {
            if (!arrays.TryGetValue("mu", out var mu) || !arrays.TryGetValue("sigma", out var sigma))
                throw new InvalidDataException($"{path}: FID statistics need arrays 'mu' and 'sigma'; found {string.Join(", ", arrays.Keys)}");
            var info = LoadInfo(path);
            return GaussianStats.FromTensors(mu, sigma, info?.Count ?? 0);
        }
        finally
        {
            foreach (var t in arrays.Values) t.Dispose();
        }
    }

    /// <summary>The `feats` rows [N, D] of a statistics file (dtype as stored), for KID.</summary>
    public static Tensor LoadFeatures(string path)
    {
        var arrays = Npz.Load(path, name => name == FeaturesKey);
        if (!arrays.TryGetValue(FeaturesKey, out var feats))
            throw new InvalidDataException($"{path}: KID needs the feature rows ('{FeaturesKey}'), which this statistics file lacks (mu/sigma alone cannot give KID); recompute it with `pipeline stats <folder> -o {Path.GetFileName(path)} --features`");
        if (feats.dim() != 2 || !feats.is_floating_point())
            throw new InvalidDataException($"{path}: '{FeaturesKey}' must be a float [N, D] array, got {feats.dtype} [{string.Join(", ", feats.shape)}]");
        return feats;
    }

    public static FidStatsInfo? LoadInfo(string path) =>
        File.Exists(path + ".json") ? JsonSerializer.Deserialize<FidStatsInfo>(File.ReadAllText(path + ".json"), Json) : null;
}
