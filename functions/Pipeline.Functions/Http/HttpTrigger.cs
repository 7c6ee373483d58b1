using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pipeline.Infra.Contracts;

namespace Pipeline.Functions.Http;

/// <summary>
/// An HTTP trigger call as the functions see it: method, headers, query, route values and a size-capped body, over the
/// ASP.NET Core request the isolated worker (or the local host) passes to the function.
/// </summary>
public sealed class HttpTriggerRequest
{
    /// <summary>Largest request body accepted by the HTTP functions.</summary>
    public const int MaxBodyChars = 30 * 1024 * 1024;

    private readonly HttpRequest _request;
    private readonly Dictionary<string, string> _params;

    private HttpTriggerRequest(HttpRequest request, Dictionary<string, string> routeParams)
    {
        _request = request;
        _params = routeParams;
    }

    /// <summary>HTTP method, upper case.</summary>
    public string Method => _request.Method.ToUpperInvariant();

    /// <summary>A header's first value.</summary>
    public string? Header(string name) => _request.Headers.TryGetValue(name, out var v) && v.Count > 0 ? v[0] : null;

    /// <summary>A query value.</summary>
    public string? Query(string name) => _request.Query.TryGetValue(name, out var v) && v.Count > 0 ? v[0] : null;

    /// <summary>A route parameter, else the query value of the same name.</summary>
    public string? Param(string name) => _params.TryGetValue(name, out var v) && !string.IsNullOrEmpty(v) ? v : Query(name);

    /// <summary>The request as the function got it, with its route values (null ones are left out).</summary>
    public static HttpTriggerRequest From(HttpRequest request, params (string Name, string? Value)[] routeParams)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in routeParams)
            if (value is not null) map[name] = value;
        return new HttpTriggerRequest(request, map);
    }

    /// <summary>The body as text (null when empty); <see cref="ArgumentException"/> when it is over <see cref="MaxBodyChars"/>.</summary>
    public async Task<string?> ReadBodyAsync(CancellationToken cancellationToken)
    {
        if (_request.ContentLength is > MaxBodyChars * 4L) throw new ArgumentException("The request body is too large.");
        using var reader = new StreamReader(_request.Body, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, leaveOpen: true);
        var buffer = new char[81920];
        var text = new StringBuilder();
        int n;
        while ((n = await reader.ReadAsync(buffer.AsMemory(), cancellationToken)) > 0)
        {
            text.Append(buffer, 0, n);
            if (text.Length > MaxBodyChars) throw new ArgumentException("The request body is too large.");
        }
        return text.Length == 0 ? null : text.ToString();
    }
}

/// <summary>The answers of the HTTP functions: JSON, RFC 9457 problems and static text, as <see cref="IResult"/>.</summary>
public static class HttpTriggerResponse
{
    /// <summary>A JSON answer.</summary>
    public static IResult Json<T>(int status, T value) => Make(status, "application/json; charset=utf-8", Encoding.UTF8.GetString(JobJson.ToUtf8(value)));

    /// <summary>An RFC 9457 problem answer.</summary>
    public static IResult Problem(int status, string code, string detail) =>
        Make(status, "application/problem+json", JsonSerializer.Serialize(new { type = "about:blank", title = code, status, detail, code }));

    /// <summary>A text answer (static assets).</summary>
    public static IResult Text(int status, string contentType, string body, string? cacheControl = null)
    {
        var headers = new Dictionary<string, string>
        {
            ["X-Content-Type-Options"] = "nosniff",
            ["Cache-Control"] = cacheControl ?? "no-store",
        };
        if (contentType.StartsWith("text/html", StringComparison.Ordinal))
        {
            // The dashboard loads only its own assets; thumbnails come from the storage account through SAS links.
            headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' https: data: http://127.0.0.1:*; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";
            headers["X-Frame-Options"] = "DENY";
        }
        return new HttpAnswer(status, contentType, body, headers);
    }

    private static HttpAnswer Make(int status, string contentType, string body) =>
        new(status, contentType, body, new Dictionary<string, string> { ["Cache-Control"] = "no-store", ["X-Content-Type-Options"] = "nosniff" });
}

/// <summary>One complete HTTP answer: status, content type, extra headers and a text body.</summary>
public sealed class HttpAnswer(int statusCode, string contentType, string body, IReadOnlyDictionary<string, string> headers)
    : IResult, IStatusCodeHttpResult, IContentTypeHttpResult
{
    /// <summary>Status code.</summary>
    public int StatusCode { get; } = statusCode;
    int? IStatusCodeHttpResult.StatusCode => StatusCode;
    /// <summary>Content type.</summary>
    public string ContentType { get; } = contentType;
    /// <summary>Headers besides Content-Type.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; } = headers;
    /// <summary>The body.</summary>
    public string Body { get; } = body;

    /// <inheritdoc />
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCode;
        foreach (var (k, v) in Headers) response.Headers[k] = v;
        response.ContentType = ContentType;
        var bytes = Encoding.UTF8.GetBytes(Body);
        response.ContentLength = bytes.Length;
        await response.Body.WriteAsync(bytes, httpContext.RequestAborted);
    }
}

/// <summary>Case-insensitive access to JSON request bodies and trigger metadata.</summary>
public static class JsonFields
{
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

    /// <summary>A trigger metadata value as a JSON object: the worker passes objects as JSON text.</summary>
    public static JsonObject? AsObject(object? value)
    {
        var text = value switch
        {
            string s => s,
            JsonElement e when e.ValueKind == JsonValueKind.Object => e.GetRawText(),
            JsonElement e when e.ValueKind == JsonValueKind.String => e.GetString(),
            JsonObject o => o.ToJsonString(),
            _ => null,
        };
        if (string.IsNullOrWhiteSpace(text) || !text.TrimStart().StartsWith('{')) return null;
        try { return JsonNode.Parse(text) as JsonObject; }
        catch (JsonException) { return null; }
    }
}
