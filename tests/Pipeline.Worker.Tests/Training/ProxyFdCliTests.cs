using System.Text.Json;
using Pipeline.Engine.Training;
using Pipeline.Worker.Cli.Training;

namespace Pipeline.Worker.Tests.Training;

/// <summary>`pipeline train proxy-fd` on freshly trained tiny models: both proxy distances, finite, never called FID.</summary>
public sealed class ProxyFdCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("proxyfdcli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static int Invoke(params string[] args) => new TrainCommand().Build().Parse(args).Invoke();

    private static JsonElement Record(string jsonl) => JsonDocument.Parse(Assert.Single(File.ReadAllLines(jsonl))).RootElement;

    private static void AssertProxyRecord(JsonElement r, string family, string[] comparisons)
    {
        Assert.Equal(ProxyFrechet.Name, r.GetProperty("metric").GetString());
        Assert.Equal(ProxyFrechet.PixelName, r.GetProperty("pixel_metric").GetString());
        Assert.Equal(family, r.GetProperty("family").GetString());
        Assert.Equal(8, r.GetProperty("count").GetInt32());
        foreach (var c in comparisons)
            foreach (var key in new[] { c, "pixel8_" + c })
            {
                double v = r.GetProperty(key).GetDouble();
                Assert.True(double.IsFinite(v) && v >= 0, $"{key} = {v}");
            }
        var names = r.EnumerateObject().Select(p => p.Name).ToArray();
        Assert.DoesNotContain(names, n => n.Contains("fid", StringComparison.OrdinalIgnoreCase));
        foreach (var metric in new[] { r.GetProperty("metric").GetString()!, r.GetProperty("pixel_metric").GetString()! })
            Assert.DoesNotContain("fid", metric, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void StyleGan2_checkpoint_gets_both_proxy_distances()
    {
        var run = Path.Combine(_dir, "sg2");
        Assert.Equal(0, Invoke("stylegan2", "--synthetic", "faces", "--count", "4", "--size", "16", "--channels", "8", "--latent", "8",
            "--n-mlp", "1", "--batch", "2", "--iter", "1", "--sample-every", "100", "-o", run, "--device", "cpu"));
        var ckpt = Path.Combine(run, "checkpoint", "000001.pt");
        var json = Path.Combine(_dir, "sg2.jsonl");
        Assert.Equal(0, Invoke("proxy-fd", "--stylegan2", ckpt, "--count", "8", "--json", json));
        var r = Record(json);
        AssertProxyRecord(r, "stylegan2", ["trained_vs_real", "init_vs_real", "real_vs_real"]);
        Assert.Equal(ckpt, r.GetProperty("model").GetString());
    }

    [Fact]
    public void Council_prefix_gets_both_proxy_distances()
    {
        var run = Path.Combine(_dir, "council");
        Assert.Equal(0, Invoke("council", "--synthetic", "--count", "4", "--size", "16", "--council-size", "2", "--gen-dim", "4",
            "--mlp-dim", "8", "--style-dim", "4", "--n-res", "1", "--dis-dim", "4", "--dis-layers", "2", "--batch", "2",
            "--iter", "1", "--image-every", "100", "-o", run, "--device", "cpu"));
        var json = Path.Combine(_dir, "council.jsonl");
        Assert.Equal(0, Invoke("proxy-fd", "--council", Path.Combine(run, "00000001"), "--count", "8", "--json", json));
        AssertProxyRecord(Record(json), "council", ["trained_vs_anime", "init_vs_anime", "inputs_vs_anime", "anime_vs_anime"]);
    }

    [Fact]
    public void Without_a_model_it_is_a_usage_error() => Assert.Equal(1, Invoke("proxy-fd", "--count", "8"));
}
