using System.Text;
using Pipeline.Infra.Contracts;
using Pipeline.Metrics;

namespace Pipeline.Worker.Tests.Jobs;

/// <summary>The engine writes metric records as JSON lines; functions and dashboards read the same type back through infra's JSON options.</summary>
public class MetricSchemaTests
{
    [Fact]
    public void InfraReaderReadsEveryFieldTheEngineWrites()
    {
        var written = new MetricRecord
        {
            Metric = "ppl_wend", Value = 123.5, Status = "ok", ModelId = "models/a.pt", ModelSha256 = "ab12", Dataset = "d",
            Images = 50_000, Settings = new Dictionary<string, object?> { ["epsilon"] = 1e-4, ["crop"] = true },
            FeatureNetworkSha256 = "cd34", DurationSeconds = 12.5, Device = "cuda", Timestamp = new DateTimeOffset(2026, 11, 22, 10, 0, 0, TimeSpan.Zero),
        };
        var read = JobJson.FromUtf8<MetricRecord>(Encoding.UTF8.GetBytes(written.ToJsonLine()));
        Assert.Equal(written.Metric, read.Metric);
        Assert.Equal(written.Value, read.Value);
        Assert.Equal(written.Status, read.Status);
        Assert.Equal(written.ModelId, read.ModelId);
        Assert.Equal(written.ModelSha256, read.ModelSha256);
        Assert.Equal(written.Images, read.Images);
        Assert.Equal(written.FeatureNetworkSha256, read.FeatureNetworkSha256);
        Assert.Equal(written.DurationSeconds, read.DurationSeconds);
        Assert.Equal(written.Device, read.Device);
        Assert.Equal(written.Timestamp, read.Timestamp);
        Assert.Equal(written.RunId, read.RunId);
        Assert.True(((System.Text.Json.JsonElement)read.Settings["crop"]!).GetBoolean());
        Assert.Equal(1e-4, read.SettingNumber("epsilon"));
        Assert.Equal(written with { Settings = read.Settings }, read);
    }
}
