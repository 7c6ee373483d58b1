using System.Text.Json;

namespace Pipeline.Engine.Tests.Metrics;

internal static class PplChecks
{
    public static void Run(MetricsFixture fx, JsonElement c) =>
        Assert.Fail($"ppl check '{c.GetProperty("name").GetString()}': PPL is not implemented yet");
}
