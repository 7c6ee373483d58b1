using System.Text.Json.Nodes;
using Pipeline.Tests;

namespace Pipeline.Deployment.Tests.Bicep;

/// <summary>bicep/main.bicep compiled once to ARM JSON, with helpers to walk nested module deployments.</summary>
public sealed class CompiledTemplate : IAsyncLifetime
{
    public static string BicepDir => System.IO.Path.Combine(TestPaths.RepoRoot, "bicep");

    public JsonObject Root { get; private set; } = new();

    /// <summary>Every resource, including those inside nested module deployments, with the template that holds it.</summary>
    public IReadOnlyList<(JsonObject Resource, JsonObject Template)> Resources { get; private set; } = [];

    /// <summary>The main template and every nested module template.</summary>
    public IReadOnlyList<JsonObject> Templates { get; private set; } = [];

    public async ValueTask InitializeAsync()
    {
        var build = await BuildAllAsync();
        if (build.ExitCode != 0) throw new InvalidOperationException($"bicep build failed ({build.ExitCode}):\n{build.Output}");
        Root = JsonNode.Parse(await File.ReadAllTextAsync(System.IO.Path.Combine(build.OutDir, "main.json")))!.AsObject();
        var resources = new List<(JsonObject, JsonObject)>();
        var templates = new List<JsonObject>();
        Walk(Root, resources, templates);
        Resources = resources;
        Templates = templates;
    }

    private static readonly SemaphoreSlim BuildGate = new(1, 1);
    private static (int ExitCode, string Output, string OutDir)? built;

    /// <summary>
    /// Builds every template under bicep/ once per test run (one CLI start: the CLI is the slow part), mirroring the
    /// folder structure into a temp directory.
    /// </summary>
    public static async Task<(int ExitCode, string Output, string OutDir)> BuildAllAsync()
    {
        await BuildGate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            if (built is { } b) return b;
            var outDir = Directory.CreateTempSubdirectory("bicep-build-").FullName;
            var (code, output) = await BicepCli.RunAsync(BicepDir, "build", "--pattern", "**/*.bicep", "--outdir", outDir);
            built = (code, output, outDir);
            return built.Value;
        }
        finally
        {
            BuildGate.Release();
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    public IEnumerable<JsonObject> OfType(string type) =>
        Resources.Where(r => string.Equals((string?)r.Resource["type"], type, StringComparison.OrdinalIgnoreCase)).Select(r => r.Resource);

    private static void Walk(JsonObject template, List<(JsonObject, JsonObject)> resources, List<JsonObject> templates)
    {
        templates.Add(template);
        // languageVersion 2.0 templates keep resources in an object keyed by symbolic name.
        IEnumerable<JsonNode?> items = template["resources"] switch
        {
            JsonArray a => a,
            JsonObject o => o.Select(p => p.Value),
            _ => [],
        };
        foreach (var node in items)
        {
            if (node is not JsonObject r) continue;
            resources.Add((r, template));
            if ((string?)r["type"] == "Microsoft.Resources/deployments" && r["properties"]?["template"] is JsonObject nested)
                Walk(nested, resources, templates);
        }
    }
}
