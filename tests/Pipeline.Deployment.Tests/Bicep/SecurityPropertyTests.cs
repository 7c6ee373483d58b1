using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Pipeline.Deployment.Tests.Bicep;

/// <summary>Security properties asserted on the compiled ARM JSON of bicep/main.bicep (all nested modules included).</summary>
public sealed partial class SecurityPropertyTests(CompiledTemplate arm) : IClassFixture<CompiledTemplate>
{
    // Broad built-in roles nobody in this app needs: Owner, Contributor, User Access Administrator,
    // Role Based Access Control Administrator, Azure Service Bus Data Owner.
    private static readonly string[] BroadRoles =
    [
        "8e3af657-a8ff-4c5b-bc25-ac6d6a4b3b17", "b24988ac-6180-42dd-a2c3-0ee9b2d0ab9d", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        "f58310d9-a9f6-439a-9e8d-f62e7b41a168", "090c5cfd-751d-490a-894a-3ce6f1109419",
    ];

    [Fact]
    public void StorageAccountsAllowNoPublicAccessNoSharedKeyAndOnlyTls12()
    {
        var accounts = arm.OfType("Microsoft.Storage/storageAccounts").ToList();
        Assert.NotEmpty(accounts);
        foreach (var a in accounts)
        {
            var p = a["properties"]!;
            Assert.False((bool)p["allowBlobPublicAccess"]!);
            Assert.False((bool)p["allowSharedKeyAccess"]!);
            Assert.Equal("TLS1_2", (string?)p["minimumTlsVersion"]);
            Assert.True((bool)p["supportsHttpsTrafficOnly"]!);
        }
    }

    [Fact]
    public void BlobContainersArePrivateAndCoverTheBlobLayout()
    {
        var containers = arm.OfType("Microsoft.Storage/storageAccounts/blobServices/containers").ToList();
        Assert.NotEmpty(containers);
        Assert.All(containers, c => Assert.Equal("None", (string?)c["properties"]?["publicAccess"]));
        var layout = arm.Root["variables"]!["containers"]!.AsObject().Select(p => (string)p.Value!).ToList();
        foreach (var name in new[] { "uploads", "status", "rejected", "results", "metrics", "datasets", "models" })
            Assert.Contains(name, layout);
    }

    [Fact]
    public void ServiceBusUsesEntraOnlyAndQueuesDeadLetterAndDeduplicate()
    {
        var ns = Assert.Single(arm.OfType("Microsoft.ServiceBus/namespaces"));
        Assert.True((bool)ns["properties"]!["disableLocalAuth"]!);
        Assert.Equal("1.2", (string?)ns["properties"]!["minimumTlsVersion"]);
        Assert.NotEqual("Basic", (string?)ns["sku"]!["name"]); // Basic has no duplicate detection
        Assert.Empty(arm.OfType("Microsoft.ServiceBus/namespaces/AuthorizationRules"));

        var queue = Assert.Single(arm.OfType("Microsoft.ServiceBus/namespaces/queues"));
        Assert.NotNull(queue["copy"]); // one queue per job kind
        var p = queue["properties"]!;
        Assert.True((bool)p["requiresDuplicateDetection"]!);
        Assert.True((bool)p["deadLetteringOnMessageExpiration"]!);
        Assert.NotNull(p["maxDeliveryCount"]);
        Assert.NotNull(p["lockDuration"]);
        Assert.NotNull(p["duplicateDetectionHistoryTimeWindow"]);
        var kinds = arm.Root["variables"]!["queues"]!.AsObject().Select(q => q.Key).ToList();
        Assert.Equal(["translate", "project", "augment"], kinds);
    }

    [Fact]
    public void MonitoringAndRegistryHaveLocalAuthDisabled()
    {
        var ai = Assert.Single(arm.OfType("Microsoft.Insights/components"));
        Assert.True((bool)ai["properties"]!["DisableLocalAuth"]!);
        var acr = Assert.Single(arm.OfType("Microsoft.ContainerRegistry/registries"));
        Assert.False((bool)acr["properties"]!["adminUserEnabled"]!);
        Assert.False((bool)acr["properties"]!["anonymousPullEnabled"]!);
    }

    [Fact]
    public void EveryRoleAssignmentIsScopedToAResourceWithANarrowRole()
    {
        var assignments = arm.OfType("Microsoft.Authorization/roleAssignments").ToList();
        Assert.True(assignments.Count >= 6, $"expected per-component role assignments, found {assignments.Count}");
        foreach (var ra in assignments)
        {
            var scope = (string?)ra["scope"];
            Assert.False(string.IsNullOrEmpty(scope), $"role assignment {ra["name"]} has no resource scope (it would land on the resource group)");
            Assert.Matches(ResourceScope(), scope!);
            Assert.DoesNotContain("subscription()", scope, StringComparison.Ordinal);
            var role = (string?)ra["properties"]?["roleDefinitionId"] ?? "";
            Assert.DoesNotContain(BroadRoles, r => role.Contains(r, StringComparison.OrdinalIgnoreCase));
            Assert.Equal("ServicePrincipal", (string?)ra["properties"]?["principalType"]);
        }
        // Nothing is deployed at subscription or management-group scope.
        foreach (var d in arm.OfType("Microsoft.Resources/deployments"))
        {
            Assert.Null(d["subscriptionId"]);
            Assert.Null(d["scope"]);
        }
        Assert.Contains("deploymentTemplate.json", (string?)arm.Root["$schema"], StringComparison.Ordinal);
    }

    [Fact]
    public void OutputsCarryNoSecrets()
    {
        foreach (var template in arm.Templates)
        {
            var secureParams = (template["parameters"] as JsonObject ?? [])
                .Where(p => ((string?)p.Value?["type"])?.StartsWith("secure", StringComparison.OrdinalIgnoreCase) == true)
                .Select(p => p.Key).ToList();
            foreach (var (name, output) in template["outputs"] as JsonObject ?? [])
            {
                Assert.DoesNotMatch(SecretName(), name);
                Assert.DoesNotContain("secure", (string?)output?["type"] ?? "", StringComparison.OrdinalIgnoreCase);
                var value = output?["value"]?.ToJsonString() ?? "";
                Assert.DoesNotMatch(ListFunction(), value);
                Assert.All(secureParams, p => Assert.DoesNotContain($"parameters('{p}')", value, StringComparison.Ordinal));
            }
        }
        // And no secret travels through app settings: identity-based connections only.
        var site = Assert.Single(arm.OfType("Microsoft.Web/sites"));
        var settings = site["properties"]!["siteConfig"]!["appSettings"]!.ToJsonString();
        Assert.DoesNotMatch(ListFunction(), settings);
        Assert.DoesNotContain("AccountKey=", settings, StringComparison.Ordinal);
        Assert.DoesNotContain("SharedAccessKey", settings, StringComparison.Ordinal);
        Assert.Contains("AzureWebJobsStorage__credential", settings, StringComparison.Ordinal);
    }

    [Fact]
    public void FunctionAppIsFlexConsumptionIsolatedWorkerBehindEntraId()
    {
        var plan = Assert.Single(arm.OfType("Microsoft.Web/serverfarms"));
        Assert.Equal("FlexConsumption", (string?)plan["sku"]!["tier"]);
        var site = Assert.Single(arm.OfType("Microsoft.Web/sites"));
        var p = site["properties"]!;
        Assert.True((bool)p["httpsOnly"]!);
        Assert.Equal("dotnet-isolated", (string?)p["functionAppConfig"]!["runtime"]!["name"]);
        Assert.Equal("10.0", (string?)p["functionAppConfig"]!["runtime"]!["version"]);
        Assert.Equal("UserAssignedIdentity", (string?)p["functionAppConfig"]!["deployment"]!["storage"]!["authentication"]!["type"]);
        Assert.Equal("UserAssigned", (string?)site["identity"]!["type"]);

        var basic = arm.OfType("Microsoft.Web/sites/basicPublishingCredentialsPolicies").ToList();
        Assert.Equal(2, basic.Count);
        Assert.All(basic, b => Assert.False((bool)b["properties"]!["allow"]!));

        var auth = Assert.Single(arm.OfType("Microsoft.Web/sites/config"), c => ((string?)c["name"])!.Contains("authsettingsV2", StringComparison.Ordinal));
        var a = auth["properties"]!;
        Assert.True((bool)a["globalValidation"]!["requireAuthentication"]!);
        Assert.Equal("Return401", (string?)a["globalValidation"]!["unauthenticatedClientAction"]);
        Assert.True((bool)a["identityProviders"]!["azureActiveDirectory"]!["enabled"]!);
        // Only the Event Grid webhook (which carries the blobs_extension key) bypasses Entra ID.
        var excluded = a["globalValidation"]!["excludedPaths"]!.AsArray().Select(x => (string)x!).ToList();
        Assert.All(excluded, x => Assert.Contains(x, new[] { "/runtime/webhooks/blobs", "/admin/host/ping" }));
    }

    [Fact]
    public void UploadsReachValidateUploadThroughEventGrid()
    {
        var sub = Assert.Single(arm.OfType("Microsoft.EventGrid/systemTopics/eventSubscriptions"));
        var p = sub["properties"]!;
        Assert.Contains("Microsoft.Storage.BlobCreated", p["filter"]!["includedEventTypes"]!.AsArray().Select(x => (string?)x));
        Assert.Contains("uploads", (string?)p["filter"]!["subjectBeginsWith"] ?? ((string?)arm.Root["variables"]!["containers"]!["uploads"])!, StringComparison.Ordinal);
        var endpoint = (string?)p["destination"]!["properties"]!["endpointUrl"];
        Assert.Contains("/runtime/webhooks/blobs", endpoint, StringComparison.Ordinal);
        Assert.Contains("Host.Functions.", endpoint, StringComparison.Ordinal);
        Assert.NotNull(p["deadLetterWithResourceIdentity"]);
    }

    [Fact]
    public void WorkersRunOnServerlessGpusScaledByServiceBusWithManagedIdentity()
    {
        var env = Assert.Single(arm.OfType("Microsoft.App/managedEnvironments"));
        var profiles = env["properties"]!["workloadProfiles"]!.ToJsonString();
        Assert.Contains("Consumption", profiles, StringComparison.Ordinal);
        var workers = arm.Templates.Single(t => t["variables"]?["profiles"] is not null);
        var gpuTypes = workers["variables"]!["profiles"]!.AsObject().Select(p => (string?)p.Value!["type"]).ToList();
        Assert.Equal(["Consumption-GPU-NC8as-T4", "Consumption-GPU-NC24-A100"], gpuTypes);

        var app = Assert.Single(arm.OfType("Microsoft.App/containerApps"));
        Assert.NotNull(app["copy"]); // one worker app per queue
        var p = app["properties"]!;
        Assert.Null(p["configuration"]!["ingress"]); // nothing listens
        Assert.Null(p["configuration"]!["secrets"]);
        Assert.All(p["configuration"]!["registries"]!.AsArray(), r => Assert.False(string.IsNullOrEmpty((string?)r!["identity"])));
        var scale = p["template"]!["scale"]!;
        Assert.Equal(0, (int)scale["minReplicas"]!);
        var rule = Assert.Single(scale["rules"]!.AsArray())!["custom"]!;
        Assert.Equal("azure-servicebus", (string?)rule["type"]);
        Assert.False(string.IsNullOrEmpty((string?)rule["identity"]), "KEDA must authenticate with the worker identity");
        Assert.Null(rule["auth"]); // no connection-string secret reference
        Assert.NotNull(rule["metadata"]!["namespace"]);
        Assert.NotNull(rule["metadata"]!["queueName"]);
        var env0 = p["template"]!["containers"]![0]!["env"]!.ToJsonString();
        Assert.DoesNotContain("secretRef", env0, StringComparison.Ordinal);
    }

    [Fact]
    public void MainTemplateHasTheDocumentedParameters()
    {
        var parameters = arm.Root["parameters"]!.AsObject();
        foreach (var name in new[] { "location", "gpuProfile", "maxReplicas", "augmentationSchedule", "authClientId" })
            Assert.True(parameters.ContainsKey(name), $"missing parameter {name}");
        Assert.Equal(["T4", "A100"], parameters["gpuProfile"]!["allowedValues"]!.AsArray().Select(x => (string?)x));
    }

    [GeneratedRegex(@"^\[(format\('Microsoft\.|resourceId\(|extensionResourceId\()")]
    private static partial Regex ResourceScope();

    [GeneratedRegex(@"(?i)(key|secret|password|connectionstring|token|sas)")]
    private static partial Regex SecretName();

    [GeneratedRegex(@"\blist[A-Za-z]*\(")]
    private static partial Regex ListFunction();
}
