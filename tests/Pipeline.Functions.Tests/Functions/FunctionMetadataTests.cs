using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pipeline.Functions.Local;
using Pipeline.Functions.Services;
using Pipeline.Infra.Queue;
using Pipeline.Tests;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>
/// The contract with the real Functions host: the generated functions.metadata (trigger types, the Event Grid source,
/// routes, methods, auth levels, the timer's schedule setting), host.json and worker.config.json in the build output,
/// the documentation of each function, and a container that resolves every function class.
/// </summary>
public sealed class FunctionMetadataTests
{
    private static string AppRoot => Path.Combine(TestPaths.RepoRoot, "functions", "Pipeline.Functions");
    private static string Output => Path.GetDirectoryName(FunctionsMetadata.PathOf())!;

    private static JsonObject Read(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    [Fact]
    public void TheOutputIsAnIsolatedWorkerAppWithoutCustomHandlerPlumbing()
    {
        var worker = Read(Path.Combine(Output, "worker.config.json"));
        Assert.Equal("dotnet-isolated", (string?)worker["description"]!["language"]);
        Assert.Equal("Pipeline.Functions.dll", (string?)worker["description"]!["defaultWorkerPath"]);
        Assert.True(Directory.Exists(Path.Combine(Output, ".azurefunctions")), "the SDK's extension payload (.azurefunctions/) is missing");

        foreach (var hostJson in new[] { Path.Combine(AppRoot, "host.json"), Path.Combine(Output, "host.json") })
        {
            var host = Read(hostJson);
            Assert.Equal("2.0", (string?)host["version"]);
            Assert.Null(host["customHandler"]);
            Assert.Null(host["extensionBundle"]); // .NET isolated apps carry their extensions (.azurefunctions/)
            Assert.Equal("api", (string?)host["extensions"]!["http"]!["routePrefix"]);
            Assert.Equal(LocalHost.RoutePrefix, (string?)host["extensions"]!["http"]!["routePrefix"]);
            Assert.Equal("OpenTelemetry", (string?)host["telemetryMode"]);
        }
        var leftovers = Directory.EnumerateFiles(AppRoot, "function.json", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        Assert.Empty(leftovers);
    }

    [Fact]
    public void TheMetadataListsEveryFunctionWithItsTrigger()
    {
        var metadata = FunctionsMetadata.Load();
        Assert.Equal(FunctionsApp.Functions.Keys.Order(StringComparer.Ordinal), metadata.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["Dashboard", "Gallery", "JobResults", "JobStatus", "Metrics", "ScheduleAugmentation", "SubmitJob", "ValidateUpload"], metadata.Keys.Order(StringComparer.Ordinal));
        Assert.All(metadata.Values, f => Assert.Equal("dotnet-isolated", (string?)f["language"]));

        var blob = FunctionsMetadata.Trigger(metadata[ValidateUpload.Name]);
        Assert.Equal("blobTrigger", (string?)blob["type"]);
        Assert.Equal("EventGrid", (string?)blob["source"]); // Flex Consumption supports only the Event Grid source
        Assert.Equal("uploads/{name}", (string?)blob["path"]);
        Assert.Equal("PipelineStorage", (string?)blob["connection"]);
        Assert.Equal(ValidateUpload.BindingName, (string?)blob["name"]);

        var timer = FunctionsMetadata.Trigger(metadata[ScheduleAugmentation.Name]);
        Assert.Equal("timerTrigger", (string?)timer["type"]);
        Assert.Equal("%AugmentationSchedule%", (string?)timer["schedule"]);
        Assert.True((bool)timer["useMonitor"]!);
        Assert.False((bool)timer["runOnStartup"]!);

        var http = new Dictionary<string, (string Route, string[] Methods)>
        {
            ["SubmitJob"] = ("jobs", ["post"]),
            ["JobStatus"] = ("jobs/{jobId}", ["get"]),
            ["JobResults"] = ("jobs/{jobId}/results", ["get"]),
            ["Metrics"] = ("metrics", ["get"]),
            ["Dashboard"] = ("dashboard/{*asset}", ["get"]),
            ["Gallery"] = ("gallery/{*path}", ["get", "post"]),
        };
        foreach (var (name, (route, methods)) in http)
        {
            var bindings = metadata[name]["bindings"]!.AsArray().Select(b => b!.AsObject()).ToList();
            var trigger = bindings.Single(b => (string?)b["type"] == "httpTrigger");
            Assert.Equal(route, (string?)trigger["route"]);
            Assert.Equal(methods, trigger["methods"]!.AsArray().Select(m => (string)m!));
            // The platform key is not used: Easy Auth (Azure) or the app's key check (local) is the gate; see HttpApiTests.
            Assert.Equal("Anonymous", (string?)trigger["authLevel"]);
            Assert.Contains(bindings, b => (string?)b["type"] == "http" && (string?)b["direction"] == "Out");
        }
    }

    [Fact]
    public void TheDocsDescribeEachFunctionAsTheMetadataDeclaresIt()
    {
        var docs = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "docs", "functions.md"));
        foreach (var (name, function) in FunctionsMetadata.Load())
        {
            var row = docs.SingleOrDefault(l => l.StartsWith($"| `{name}` |", StringComparison.Ordinal));
            Assert.True(row is not null, $"docs/functions.md has no table row for {name}");
            var trigger = FunctionsMetadata.Trigger(function);
            switch ((string?)trigger["type"])
            {
                case "blobTrigger":
                    Assert.Contains($"blob trigger `{trigger["path"]}`", row, StringComparison.Ordinal);
                    Assert.Contains($"`\"source\": \"{trigger["source"]}\"`", row, StringComparison.Ordinal);
                    Assert.Contains($"connection `{trigger["connection"]}`", row, StringComparison.Ordinal);
                    break;
                case "timerTrigger":
                    Assert.Contains($"timer `{trigger["schedule"]}`", row, StringComparison.Ordinal);
                    break;
                case "httpTrigger":
                    var methods = string.Join(" ", trigger["methods"]!.AsArray().Select(m => ((string)m!).ToUpperInvariant()));
                    Assert.Contains($"HTTP {methods} `api/{trigger["route"]}`", row, StringComparison.Ordinal);
                    Assert.Contains(((string)trigger["authLevel"]!).ToLowerInvariant(), row, StringComparison.Ordinal);
                    break;
                default:
                    Assert.Fail($"{name}: unexpected trigger {trigger["type"]}");
                    break;
            }
        }
    }

    [Fact]
    public void EveryFunctionClassResolvesFromTheContainerAsTheBicepConfiguresIt()
    {
        // The app settings of bicep/modules/functionapp.bicep (no network is touched while resolving).
        var settings = new Dictionary<string, string?>
        {
            ["Pipeline:Storage:Kind"] = "azure",
            ["Pipeline:Storage:ServiceUri"] = "https://stgandata.blob.core.windows.net/",
            ["Pipeline:Storage:ManagedIdentityClientId"] = "00000000-0000-0000-0000-000000000001",
            ["Pipeline:Queue:Kind"] = "servicebus",
            ["Pipeline:Queue:FullyQualifiedNamespace"] = "sb-gan.servicebus.windows.net",
            ["Pipeline:Queue:ManagedIdentityClientId"] = "00000000-0000-0000-0000-000000000001",
            ["Pipeline:Queues:Translate"] = "q-translate",
            ["Pipeline:Http:Auth"] = "EasyAuth",
            ["AugmentationSchedule"] = "0 0 3 * * *",
            ["Pipeline:JobIdKey"] = "job-id-key",
        };
        using var host = FunctionsApp.CreateBuilder([], c => c.AddInMemoryCollection(settings)).Build();
        foreach (var type in FunctionsApp.FunctionClasses)
        {
            Assert.NotNull(ActivatorUtilities.CreateInstance(host.Services, type)); // as the worker's activator does
            Assert.NotNull(host.Services.GetRequiredService(type)); // as the local host and the demo do
        }
        Assert.IsType<UserDelegationLinkSigner>(host.Services.GetRequiredService<ILinkSigner>());
        Assert.Equal("q-translate", host.Services.GetRequiredService<JobQueueProvider>().NameOf(Infra.Contracts.JobKind.Translation));
        Assert.Equal("jobs-project", host.Services.GetRequiredService<JobQueueProvider>().NameOf(Infra.Contracts.JobKind.Projection));
        Assert.IsNotType<InProcessJobQueue>(host.Services.GetRequiredService<Func<string, IJobQueue>>()("q-translate"));
        Assert.NotNull(host.Services.GetRequiredService<Infra.Contracts.JobIdOptions>().Key);
    }

    [Fact]
    public void TelemetryIsExportedToAzureMonitorOnlyWhenAConnectionStringIsSet()
    {
        static bool HasTracing(Dictionary<string, string?> settings) =>
            FunctionsApp.CreateBuilder([], c => c.AddInMemoryCollection(settings)).Services.Any(d => d.ServiceType == typeof(OpenTelemetry.Trace.TracerProvider));
        Assert.False(HasTracing([]));
        Assert.True(HasTracing(new() { ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = "InstrumentationKey=00000000-0000-0000-0000-000000000000", ["AZURE_CLIENT_ID"] = "00000000-0000-0000-0000-000000000001" }));
    }
}
