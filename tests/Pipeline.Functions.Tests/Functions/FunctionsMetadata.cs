using System.Reflection;
using System.Text.Json.Nodes;

namespace Pipeline.Tests;

/// <summary>
/// The functions.metadata the Functions SDK generated for functions/Pipeline.Functions (what the host indexes): one
/// entry per function with its bindings. Read from the functions project's build output of the same configuration.
/// </summary>
public static class FunctionsMetadata
{
    /// <summary>Path of the generated file.</summary>
    public static string PathOf()
    {
        var configuration = typeof(FunctionsMetadata).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        return Path.Combine(TestPaths.RepoRoot, "functions", "Pipeline.Functions", "bin", configuration, "net10.0", "functions.metadata");
    }

    /// <summary>The functions by name.</summary>
    public static IReadOnlyDictionary<string, JsonObject> Load()
    {
        var path = PathOf();
        Assert.True(File.Exists(path), $"{path} is missing: build functions/Pipeline.Functions (the test projects reference it, so a solution build makes it).");
        return JsonNode.Parse(File.ReadAllText(path))!.AsArray().Select(f => f!.AsObject()).ToDictionary(f => (string)f["name"]!, StringComparer.Ordinal);
    }

    /// <summary>The trigger binding of a function.</summary>
    public static JsonObject Trigger(JsonObject function) =>
        function["bindings"]!.AsArray().Select(b => b!.AsObject()).Single(b => ((string?)b["type"])!.EndsWith("Trigger", StringComparison.Ordinal));
}
