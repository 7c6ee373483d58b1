using System.Text.Json;

namespace Pipeline.Engine.Tests.Metrics;

internal static class LpipsChecks
{
    public static void Run(MetricsFixture fx, JsonElement c) =>
        Assert.Fail($"lpips_vgg check '{c.GetProperty("name").GetString()}': LPIPS is not implemented yet");
}
