using System.Text.Json.Nodes;
using Pipeline.Functions.Services;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Contracts;

namespace Pipeline.Deployment.Tests.Bicep;

/// <summary>
/// The functions send each job kind to a queue by name (Pipeline:Queues:*); the bicep creates the queues and one worker
/// app per queue (Pipeline__Queue__QueueName). A job sent to a queue nobody reads would wait forever, so the names
/// on both sides are checked against each other here.
/// </summary>
public sealed class QueueWiringTests(CompiledTemplate arm) : IClassFixture<CompiledTemplate>
{
    [Fact]
    public void EveryJobKindGoesToAQueueTheBicepCreatesAndAWorkerReads()
    {
        var queues = arm.Root["variables"]!["queues"]!.AsObject().ToDictionary(q => q.Key, q => (string)q.Value!);
        var defaults = new QueueNames();
        Assert.Equal(defaults.Translate, queues["translate"]);
        Assert.Equal(defaults.Project, queues["project"]);
        Assert.Equal(defaults.Augment, queues["augment"]);
        var provider = new JobQueueProvider(defaults, name => throw new InvalidOperationException("not opened in this test"));
        foreach (var kind in Enum.GetValues<JobKind>())
            Assert.Contains(provider.NameOf(kind), queues.Values);

        // One worker app per entry of the same map, reading the entry's queue; the function app is told the same map.
        var app = Assert.Single(arm.OfType("Microsoft.App/containerApps"));
        Assert.Equal("[length(items(parameters('queues')))]", (string?)app["copy"]!["count"]);
        var env = app["properties"]!["template"]!["containers"]![0]!["env"]!.AsArray();
        var queueName = env.Single(e => (string?)e!["name"] == "Pipeline__Queue__QueueName")!;
        Assert.Equal("[items(parameters('queues'))[copyIndex()].value]", (string?)queueName["value"]);
        // Both modules get main's one queue map.
        var passed = arm.OfType("Microsoft.Resources/deployments")
            .Select(d => (string?)d["properties"]?["parameters"]?["queues"]?["value"]).Where(v => v is not null).ToList();
        Assert.Equal(2, passed.Count);
        Assert.All(passed, v => Assert.Equal("[variables('queues')]", v));
        var settings = new Dictionary<string, string?>();
        void Walk(System.Text.Json.Nodes.JsonNode? n)
        {
            if (n is System.Text.Json.Nodes.JsonObject o)
            {
                if ((string?)(o["name"] as System.Text.Json.Nodes.JsonValue) is { } name && name.StartsWith("Pipeline__Queues__", StringComparison.Ordinal))
                    settings[name] = (string?)(o["value"] as System.Text.Json.Nodes.JsonValue);
                foreach (var (_, v) in o) Walk(v);
            }
            else if (n is System.Text.Json.Nodes.JsonArray a)
            {
                foreach (var v in a) Walk(v);
            }
        }
        Walk(arm.Root);
        Assert.Equal("[parameters('queues').translate]", settings["Pipeline__Queues__Translate"]);
        Assert.Equal("[parameters('queues').project]", settings["Pipeline__Queues__Project"]);
        Assert.Equal("[parameters('queues').augment]", settings["Pipeline__Queues__Augment"]);
    }

    [Fact]
    public void MaxDeliveryCountAndLockDurationComeFromOnePlace()
    {
        // The code's defaults (QueueDefaults) are the Bicep's defaults, in main.bicep and in the Service Bus module.
        Assert.Equal(QueueDefaults.MaxDeliveryCount, (int)arm.Root["parameters"]!["maxDeliveryCount"]!["defaultValue"]!);
        var bus = arm.Templates.Single(t => t["resources"] is JsonNode r && r.ToJsonString().Contains("Microsoft.ServiceBus/namespaces/queues", StringComparison.Ordinal)
                                             && t["parameters"]?["lockDuration"] is not null);
        Assert.Equal(QueueDefaults.MaxDeliveryCount, (int)bus["parameters"]!["maxDeliveryCount"]!["defaultValue"]!);
        Assert.Equal(System.Xml.XmlConvert.ToString(QueueDefaults.LockDuration), (string?)bus["parameters"]!["lockDuration"]!["defaultValue"]);
        Assert.Equal(QueueDefaults.MaxDeliveryCount, new Pipeline.Infra.Queue.QueueEntityOptions().MaxDeliveryCount);

        // main.bicep hands its one value to the queues and to the workers (Pipeline__MaxDeliveryCount).
        var passed = arm.OfType("Microsoft.Resources/deployments")
            .Select(d => (string?)d["properties"]?["parameters"]?["maxDeliveryCount"]?["value"]).Where(v => v is not null).ToList();
        Assert.Equal(2, passed.Count);
        Assert.All(passed, v => Assert.Equal("[parameters('maxDeliveryCount')]", v));
        var app = Assert.Single(arm.OfType("Microsoft.App/containerApps"));
        var env = app["properties"]!["template"]!["containers"]![0]!["env"]!.AsArray();
        var setting = env.Single(e => (string?)e!["name"] == "Pipeline__MaxDeliveryCount")!;
        Assert.Equal("[string(parameters('maxDeliveryCount'))]", (string?)setting["value"]);
    }
}
