using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Pipeline.Tests;

namespace Pipeline.Deployment.Tests.Bicep;

/// <summary>
/// The bicep against what the Functions SDK generated for functions/Pipeline.Functions (functions.metadata,
/// worker.config.json): the runtime the app is built for, the Event Grid subscription of the blob trigger, and the app
/// settings the triggers' bindings name.
/// </summary>
public sealed partial class FunctionAppContractTests(CompiledTemplate arm) : IClassFixture<CompiledTemplate>
{
    private static string FunctionsOutput => Path.GetDirectoryName(FunctionsMetadata.PathOf())!;

    private JsonObject Site => Assert.Single(arm.OfType("Microsoft.Web/sites"));

    /// <summary>The template holding a resource of <paramref name="type"/>, and the deployment resource that runs it.</summary>
    private (JsonObject Template, JsonObject Deployment) ModuleOf(string type)
    {
        var template = arm.Resources.Single(r => (string?)r.Resource["type"] == type).Template;
        var deployment = arm.OfType("Microsoft.Resources/deployments").Single(d => ReferenceEquals(d["properties"]?["template"], template));
        return (template, deployment);
    }

    /// <summary>A module parameter's value as main.bicep passes it (a literal, or main's variable it names), else its default.</summary>
    private string? ModuleParameter(string type, string name)
    {
        var (template, deployment) = ModuleOf(type);
        var passed = deployment["properties"]!["parameters"]?[name]?["value"];
        if (passed is null) return (string?)template["parameters"]![name]!["defaultValue"];
        var text = (string)passed!;
        var variable = VariableMember().Match(text);
        return variable.Success ? (string?)arm.Root["variables"]![variable.Groups[1].Value]![variable.Groups[2].Value] : text;
    }

    /// <summary>Names of the Function App's app settings (inline objects and the variables they are concatenated from).</summary>
    private HashSet<string> AppSettingNames()
    {
        var template = arm.Resources.Single(r => ReferenceEquals(r.Resource, Site)).Template;
        var settings = Site["properties"]!["siteConfig"]!["appSettings"]!;
        // An ARM expression string (concat of inline objects and variables), or a literal array.
        var text = (settings is JsonValue expression ? (string)expression! : settings.ToJsonString()) + (template["variables"]?.ToJsonString() ?? "");
        return SettingName().Matches(text).Select(m => m.Groups["a"].Success ? m.Groups["a"].Value : m.Groups["b"].Value).ToHashSet(StringComparer.Ordinal);
    }

    [Fact]
    public void TheAppRunsTheRuntimeItIsBuiltFor()
    {
        var worker = JsonNode.Parse(File.ReadAllText(Path.Combine(FunctionsOutput, "worker.config.json")))!;
        var runtime = Site["properties"]!["functionAppConfig"]!["runtime"]!;
        Assert.Equal((string?)worker["description"]!["language"], (string?)runtime["name"]);

        var csproj = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "functions", "Pipeline.Functions", "Pipeline.Functions.csproj"));
        var props = XDocument.Load(Path.Combine(TestPaths.RepoRoot, "Directory.Build.props"));
        var tfm = csproj.Descendants("TargetFramework").Concat(props.Descendants("TargetFramework")).First().Value;
        Assert.Equal(tfm["net".Length..], (string?)runtime["version"]); // net10.0 -> 10.0
        Assert.Equal("v4", csproj.Descendants("AzureFunctionsVersion").Single().Value);

        // Flex Consumption takes the runtime from functionAppConfig only; these settings are rejected there.
        var names = AppSettingNames();
        Assert.DoesNotContain("FUNCTIONS_WORKER_RUNTIME", names);
        Assert.DoesNotContain("FUNCTIONS_EXTENSION_VERSION", names);
    }

    [Fact]
    public void TheEventGridSubscriptionCallsTheBlobTriggerFunctionForItsContainer()
    {
        var blobFunctions = FunctionsMetadata.Load().Where(f => (string?)FunctionsMetadata.Trigger(f.Value)["type"] == "blobTrigger").ToList();
        var (function, metadata) = Assert.Single(blobFunctions);
        var trigger = FunctionsMetadata.Trigger(metadata);
        Assert.Equal("EventGrid", (string?)trigger["source"]);
        var container = ((string)trigger["path"]!).Split('/')[0];

        const string subscriptionType = "Microsoft.EventGrid/systemTopics/eventSubscriptions";
        Assert.Equal(function, ModuleParameter(subscriptionType, "functionName"));
        Assert.Equal(container, ModuleParameter(subscriptionType, "uploadsContainer"));

        var subscription = Assert.Single(arm.OfType(subscriptionType))["properties"]!;
        var endpoint = (string)subscription["destination"]!["properties"]!["endpointUrl"]!;
        var placeholder = Regex.Match(endpoint, @"/runtime/webhooks/blobs\?functionName=Host\.Functions\.\{(\d)\}");
        Assert.True(placeholder.Success, endpoint);
        var args = FormatArguments(endpoint);
        Assert.Equal("parameters('functionName')", args[int.Parse(placeholder.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)]);
        Assert.Equal("[format('/blobServices/default/containers/{0}/', parameters('uploadsContainer'))]", (string?)subscription["filter"]!["subjectBeginsWith"]);
    }

    [Fact]
    public void TheAppSettingsCoverEverySettingTheTriggersName()
    {
        var names = AppSettingNames();
        foreach (var (name, function) in FunctionsMetadata.Load())
        {
            var trigger = FunctionsMetadata.Trigger(function);
            if ((string?)trigger["connection"] is { } connection)
            {
                // Identity-based connection: the service URI and managed identity, never a connection string.
                Assert.Contains($"{connection}__blobServiceUri", names);
                Assert.Contains($"{connection}__credential", names);
                Assert.Contains($"{connection}__clientId", names);
                Assert.DoesNotContain(connection, names);
            }
            foreach (var value in trigger.Select(p => p.Value).OfType<JsonValue>().Select(v => v.ToString()))
                foreach (Match m in Regex.Matches(value, "%([^%]+)%"))
                    Assert.True(names.Contains(m.Groups[1].Value), $"{name} names app setting {m.Groups[1].Value}, which the bicep does not set");
        }
        Assert.Contains("AzureWebJobsStorage__credential", names);
    }

    // The arguments of the outer format('...', a, b(c, d), ...) call, split at top-level commas.
    private static List<string> FormatArguments(string expression)
    {
        var body = expression[(expression.IndexOf("format(", StringComparison.Ordinal) + "format(".Length)..expression.LastIndexOf(')')];
        var args = new List<string>();
        int depth = 0, start = 0;
        bool quoted = false;
        for (int i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (c == '\'') quoted = !quoted;
            else if (!quoted && c == '(') depth++;
            else if (!quoted && c == ')') depth--;
            else if (!quoted && depth == 0 && c == ',')
            {
                args.Add(body[start..i].Trim());
                start = i + 1;
            }
        }
        args.Add(body[start..].Trim());
        return args.Skip(1).ToList(); // the format string itself is not an argument
    }

    [GeneratedRegex(@"^\[variables\('(\w+)'\)\.(\w+)\]$")]
    private static partial Regex VariableMember();

    [GeneratedRegex(@"'name', '(?<a>[^']+)'|""name"":\s*""(?<b>[^""]+)""")]
    private static partial Regex SettingName();
}
