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

/// <summary>pytorch-fid statistics files: .npz with float64 `mu` (D) and `sigma` (D, D).</summary>
public static class FidStatsFile
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static void Save(string path, GaussianStats stats, FidStatsInfo? info = null)
    {
        using var scope = NewDisposeScope();
        Npz.Save(path, [new("mu", stats.MuTensor()), new("sigma", stats.SigmaTensor())]);
        if (info is not null)
            File.WriteAllText(path + ".json", JsonSerializer.Serialize(info with { Count = stats.Count, Dims = stats.Dims }, Json));
    }

    /// <summary>Reads any .npz holding mu and sigma (pytorch-fid --save-stats files included).</summary>
    public static GaussianStats Load(string path)
    {
        var arrays = Npz.Load(path);
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

    public static FidStatsInfo? LoadInfo(string path) =>
        File.Exists(path + ".json") ? JsonSerializer.Deserialize<FidStatsInfo>(File.ReadAllText(path + ".json"), Json) : null;
}
