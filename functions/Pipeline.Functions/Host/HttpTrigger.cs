using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Infra.Contracts;

namespace Pipeline.Functions.Host;

/// <summary>
/// An HTTP trigger invocation as the host forwards it (<c>Data.req</c>): Url, Method, Query (JSON text or object),
/// Headers (name → values), Params (route values) and Body (string).
/// </summary>
public sealed class HttpTriggerRequest
{
    /// <summary>Largest request body accepted by the API handlers.</summary>
    public const int MaxBodyChars = 30 * 1024 * 1024;

    private readonly Dictionary<string, string[]> _headers;
    private readonly Dictionary<string, string> _query;
    private readonly Dictionary<string, string> _params;

    private HttpTriggerRequest(string method, string url, Dictionary<string, string[]> headers, Dictionary<string, string> query, Dictionary<string, string> routeParams, string? body)
    {
        Method = method;
        Url = url;
        _headers = headers;
        _query = query;
        _params = routeParams;
        Body = body;
    }

    /// <summary>HTTP method, upper case.</summary>
    public string Method { get; }
    /// <summary>The original URL.</summary>
    public string Url { get; }
    /// <summary>The body as the host forwarded it.</summary>
    public string? Body { get; }

    /// <summary>A header's first value.</summary>
    public string? Header(string name) => _headers.TryGetValue(name, out var v) && v.Length > 0 ? v[0] : null;
    /// <summary>A query value.</summary>
    public string? Query(string name) => _query.TryGetValue(name, out var v) ? v : null;
    /// <summary>A route parameter, else the query value of the same name.</summary>
    public string? Param(string name) => _params.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v : Query(name);

    /// <summary>Reads <c>Data.req</c> (the binding name of every HTTP function.json here).</summary>
    public static HttpTriggerRequest From(Invocation invocation, string bindingName = "req")
    {
        if (Invocation.Get(invocation.Data, bindingName) is not JsonObject req)
            throw new InvalidInvocationException($"Data.{bindingName} (the HTTP request) is missing.");
        var method = (Invocation.GetString(req, "Method") ?? "GET").ToUpperInvariant();
        var url = Invocation.GetString(req, "Url") ?? "";
        var headers = new Dictionary<string, string[]>(StringComparer.OrdinalIgnoreCase);
        if (Invocation.Get(req, "Headers") is JsonObject h)
            foreach (var (k, v) in h)
                headers[k] = v switch
                {
                    JsonArray a => a.Select(x => x?.ToString() ?? "").ToArray(),
                    null => [],
                    _ => [v.ToString()],
                };
        var query = ToMap(Invocation.Get(req, "Query"));
        var routeParams = ToMap(Invocation.Get(req, "Params"));
        var body = Invocation.Get(req, "Body") switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            var other => other.ToJsonString(),
        };
        if (body is { Length: > MaxBodyChars }) throw new InvalidInvocationException("The request body is too large.");
        return new HttpTriggerRequest(method, url, headers, query, routeParams, body);
    }

    // The host sends Query as JSON text in some versions and as an object in others.
    private static Dictionary<string, string> ToMap(JsonNode? node)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (node is JsonValue v && v.TryGetValue<string>(out var text) && text.TrimStart().StartsWith('{'))
        {
            try { node = JsonNode.Parse(text); } catch (JsonException) { return map; }
        }
        if (node is JsonObject o)
            foreach (var (k, val) in o)
                map[k] = val switch { JsonArray a => a.FirstOrDefault()?.ToString() ?? "", null => "", JsonValue jv when jv.TryGetValue<string>(out var s) => s, _ => val.ToJsonString() };
        return map;
    }
}

/// <summary>The HTTP output binding value: <c>{ statusCode, headers, body }</c>.</summary>
public static class HttpTriggerResponse
{
    /// <summary>A JSON answer.</summary>
    public static object Json<T>(int status, T value) => Make(status, "application/json; charset=utf-8", Encoding.UTF8.GetString(JobJson.ToUtf8(value)));

    /// <summary>An RFC 9457 problem answer.</summary>
    public static object Problem(int status, string code, string detail) =>
        Make(status, "application/problem+json", JsonSerializer.Serialize(new { type = "about:blank", title = code, status, detail, code }));

    /// <summary>A text answer (static assets).</summary>
    public static object Text(int status, string contentType, string body, string? cacheControl = null)
    {
        var headers = new Dictionary<string, string>
        {
            ["Content-Type"] = contentType,
            ["X-Content-Type-Options"] = "nosniff",
            ["Cache-Control"] = cacheControl ?? "no-store",
        };
        if (contentType.StartsWith("text/html", StringComparison.Ordinal))
        {
            // The dashboard loads only its own assets; thumbnails come from the storage account through SAS links.
            headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' https: data: http://127.0.0.1:*; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
            headers["X-Frame-Options"] = "DENY";
        }
        return new Dictionary<string, object> { ["statusCode"] = status, ["headers"] = headers, ["body"] = body };
    }

    private static Dictionary<string, object> Make(int status, string contentType, string body) => new()
    {
        ["statusCode"] = status,
        ["headers"] = new Dictionary<string, string> { ["Content-Type"] = contentType, ["Cache-Control"] = "no-store", ["X-Content-Type-Options"] = "nosniff" },
        ["body"] = body,
    };
}
