using Pipeline.Engine.Metrics.Fid;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

public class FidStatsFileTests
{
    /// <summary>Every fixture with a `stats_file_example` (written by numpy.savez_compressed) loads to its stored mu/sigma.</summary>
    [Fact]
    [Trait("Category", "Parity")]
    public void NumpyStatsFilesLoad()
    {
        int seen = 0;
        foreach (var c in TestPaths.FixtureCases("metrics", "manifest.json"))
        {
            var fx = MetricsFixture.Open(c);
            if (!fx.Manifest.TryGetProperty("stats_file_example", out var ex)) continue;
            var stats = FidStatsFile.Load(Path.Combine(fx.Dir, ex.GetProperty("file").GetString()!));
            var names = ex.GetProperty("equals").EnumerateArray().Select(e => e.GetString()!).ToArray();
            using var scope = NewDisposeScope();
            Assert.True(stats.MuTensor().equal(fx.T(names[0])).all().item<bool>(), "mu differs");
            Assert.True(stats.SigmaTensor().equal(fx.T(names[1])).all().item<bool>(), "sigma differs");
            seen++;
        }
        if (seen == 0) Requirement.Skip($"No metrics fixture with a stats_file_example under {TestPaths.RequireFixtureDir("metrics")}");
    }

    [Fact]
    public void SaveThenLoadKeepsStatisticsAndInfo()
    {
        using var scope = NewDisposeScope();
        var x = randn([50, 8], dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator(2));
        var stats = GaussianStats.Of(x);
        var path = Path.Combine(Path.GetTempPath(), $"fidstats-{Guid.NewGuid():N}.npz");
        try
        {
            FidStatsFile.Save(path, stats, new FidStatsInfo { FeatureNetworkSha256 = "abc", Source = "unit" });
            var back = FidStatsFile.Load(path);
            Assert.Equal(stats.Mu, back.Mu);
            Assert.Equal(stats.Sigma, back.Sigma);
            Assert.Equal(50, back.Count);
            Assert.Equal("abc", FidStatsFile.LoadInfo(path)!.FeatureNetworkSha256);
            Assert.Equal(0, FrechetDistance.Compute(stats, back).Value, 1e-9);
        }
        finally
        {
            File.Delete(path);
            File.Delete(path + ".json");
        }
    }

    [Fact]
    public void FeatureRowsForKidRoundTripAndTheirAbsenceIsExplained()
    {
        using var scope = NewDisposeScope();
        var x = randn([20, 5], dtype: ScalarType.Float32, generator: new TorchSharp.torch.Generator(3));
        var stats = GaussianStats.Of(x);
        var withFeats = Path.Combine(Path.GetTempPath(), $"fidstats-{Guid.NewGuid():N}.npz");
        var without = Path.Combine(Path.GetTempPath(), $"fidstats-{Guid.NewGuid():N}.npz");
        try
        {
            FidStatsFile.Save(withFeats, stats, features: x);
            FidStatsFile.Save(without, stats);
            var back = FidStatsFile.LoadFeatures(withFeats);
            Assert.Equal(ScalarType.Float32, back.dtype);
            Assert.True(back.equal(x).all().item<bool>(), "feats differ");
            Assert.Equal(stats.Sigma, FidStatsFile.Load(withFeats).Sigma); // FID still reads mu/sigma of such a file
            var e = Assert.Throws<InvalidDataException>(() => FidStatsFile.LoadFeatures(without));
            Assert.Contains("--features", e.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => FidStatsFile.Save(withFeats, stats, features: x[..10]));
        }
        finally
        {
            File.Delete(withFeats);
            File.Delete(without);
        }
    }
}
