using System.Text.Json.Nodes;
using Pipeline.Tests;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>The app root the Functions host reads: host.json and one folder per function, each answered by a route.</summary>
public sealed class FunctionLayoutTests
{
    private static string AppRoot => Path.Combine(TestPaths.RepoRoot, "functions", "Pipeline.Functions");

    private static JsonObject Read(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    [Fact]
    public void HostJsonDescribesACustomHandlerOnExtensionBundle4()
    {
        var host = Read(Path.Combine(AppRoot, "host.json"));
        Assert.Equal("2.0", (string?)host["version"]);
        Assert.Equal("Pipeline.Functions", (string?)host["customHandler"]!["description"]!["defaultExecutablePath"]);
        Assert.False((bool)host["customHandler"]!["enableForwardingHttpRequest"]!);
        Assert.Equal("Microsoft.Azure.Functions.ExtensionBundle", (string?)host["extensionBundle"]!["id"]);
        Assert.StartsWith("[4.", (string?)host["extensionBundle"]!["version"], StringComparison.Ordinal);
    }

    [Fact]
    public void EveryFunctionFolderHasAFunctionJsonAndARoute()
    {
        var folders = Directory.GetDirectories(AppRoot).Where(d => File.Exists(Path.Combine(d, "function.json"))).Select(Path.GetFileName).Order().ToList();
        Assert.Equal(HandlerApp.Functions.Order(), folders);

        var blob = Read(Path.Combine(AppRoot, "ValidateUpload", "function.json"))["bindings"]!.AsArray().Single()!;
        Assert.Equal("blobTrigger", (string?)blob["type"]);
        Assert.Equal("EventGrid", (string?)blob["source"]); // Flex Consumption supports only the Event Grid source
        Assert.Equal("uploads/{name}", (string?)blob["path"]);
        Assert.Equal(Handlers.ValidateUploadHandler.BindingName, (string?)blob["name"]);

        var timer = Read(Path.Combine(AppRoot, "ScheduleAugmentation", "function.json"))["bindings"]!.AsArray().Single()!;
        Assert.Equal("timerTrigger", (string?)timer["type"]);
        Assert.Equal("%AugmentationSchedule%", (string?)timer["schedule"]);

        foreach (var name in new[] { "SubmitJob", "JobStatus", "JobResults", "Metrics", "Dashboard", "Gallery" })
        {
            var bindings = Read(Path.Combine(AppRoot, name, "function.json"))["bindings"]!.AsArray();
            Assert.Contains(bindings, b => (string?)b!["type"] == "httpTrigger" && (string?)b["name"] == "req");
            Assert.Contains(bindings, b => (string?)b!["type"] == "http" && (string?)b["name"] == "res");
        }
    }

    [Theory]
    [MemberData(nameof(FunctionNames))]
    public async Task EachFunctionRouteAnswersAnEmptyInvocationWithoutCrashing(string function)
    {
        await using var host = new HandlerHost();
        var (status, body) = await host.InvokeAsync(function, """{"Data":{},"Metadata":{}}""");
        // Missing bindings are a malformed invocation (400 with a log line), except the timer, whose payload may be empty.
        Assert.Contains(status, new[] { 200, 400 });
        Assert.NotNull(body["Logs"]);
    }

    public static TheoryData<string> FunctionNames() => new(HandlerApp.Functions);
}
