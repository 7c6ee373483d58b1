using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pipeline.Functions.Host;

/// <summary>
/// The request the Functions host POSTs to a custom handler: <c>{ "Data": { binding: value }, "Metadata": { ... } }</c>.
/// Keys are matched case-insensitively because the host's casing differs between bindings and versions.
/// </summary>
public sealed class Invocation
{
    private Invocation(JsonObject data, JsonObject metadata)
    {
        Data = data;
        Metadata = metadata;
    }

    /// <summary>One entry per trigger/input binding.</summary>
    public JsonObject Data { get; }

    /// <summary>Trigger metadata (blob: name, Uri, Properties, Metadata; never the sys object).</summary>
    public JsonObject Metadata { get; }

    /// <summary>Reads the request body; throws <see cref="InvalidInvocationException"/> when it is not the host's shape.</summary>
    public static async Task<Invocation> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        JsonNode? root;
        try
        {
            root = await JsonNode.ParseAsync(request.Body, cancellationToken: cancellationToken);
        }
        catch (JsonException ex)
        {
            throw new InvalidInvocationException($"The invocation body is not JSON: {ex.Message}");
        }
        if (root is not JsonObject obj) throw new InvalidInvocationException("The invocation body must be a JSON object with Data and Metadata.");
        var data = Get(obj, "Data") as JsonObject ?? [];
        var metadata = Get(obj, "Metadata") as JsonObject ?? [];
        return new Invocation(data, metadata);
    }

    /// <summary>A property by name, ignoring case.</summary>
    public static JsonNode? Get(JsonObject? obj, string name)
    {
        if (obj is null) return null;
        if (obj.TryGetPropertyValue(name, out var exact)) return exact;
        foreach (var (k, v) in obj)
            if (string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) return v;
        return null;
    }

    /// <summary>A string property by name (numbers and booleans as their JSON text), ignoring case.</summary>
    public static string? GetString(JsonObject? obj, string name) => Get(obj, name) switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonValue v => v.ToJsonString(),
        _ => null,
    };
}

/// <summary>The invocation payload is malformed (answered with 400, which the host logs as a failed invocation).</summary>
public sealed class InvalidInvocationException(string message) : Exception(message)
{
    /// <summary>Creates the exception.</summary>
    public InvalidInvocationException() : this("Invalid invocation.") { }

    /// <summary>Creates the exception.</summary>
    public InvalidInvocationException(string message, Exception inner) : this(message + " " + inner.Message) { }
}

/// <summary>
/// The answer to the host: <c>{ "Outputs": {...}, "Logs": [...], "ReturnValue": ... }</c>. Values are JSON objects,
/// never bare strings, because the host base64-decodes string outputs that happen to parse as base64.
/// </summary>
public sealed class InvocationResult
{
    /// <summary>Output binding values by binding name.</summary>
    public Dictionary<string, object?> Outputs { get; } = new(StringComparer.Ordinal);

    /// <summary>Lines for the invocation log (Application Insights traces in Azure).</summary>
    public List<string> Logs { get; } = [];

    /// <summary>Value of a <c>$return</c> binding, or a summary for the logs.</summary>
    public object? ReturnValue { get; set; }

    /// <summary>Serializes with the host's expected property names.</summary>
    public IResult ToResult(int statusCode = StatusCodes.Status200OK) =>
        Results.Json(new Dictionary<string, object?> { ["Outputs"] = Outputs, ["Logs"] = Logs, ["ReturnValue"] = ReturnValue }, HostJson.Options, statusCode: statusCode);
}

/// <summary>Serializer options for host payloads (property names as written, camelCase enums).</summary>
public static class HostJson
{
    /// <summary>Options for host responses.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions(Pipeline.Infra.Contracts.JobJson.Options) { PropertyNamingPolicy = null, DictionaryKeyPolicy = null };
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}
