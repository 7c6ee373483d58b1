using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Pipeline.Functions.Services;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Host;

/// <summary>
/// Lets the dashboard and gallery run on one machine without the Functions host (which cannot be installed
/// everywhere): GET/POST /api/&lt;route&gt; is matched against the function.json routes, forwarded to this app's own
/// /&lt;Function&gt; endpoint as the HTTP-trigger payload the host would send, and the "res" output becomes the answer.
/// Images of a local (file-system) store are served under /api/_blobs/ with expiring HMAC links, the local stand-in
/// for SAS. Only for `--local`; Azure never runs this path.
/// </summary>
public static class LocalFrontDoor
{
    /// <summary>Path prefix of the local blob links.</summary>
    public const string BlobPrefix = "/api/_blobs/";

    /// <summary>A function.json HTTP route: template segments and methods.</summary>
    public sealed record Route(string Function, string[] Segments, string[] Methods);

    /// <summary>The HTTP-trigger routes of every function folder under <paramref name="appRoot"/>.</summary>
    public static List<Route> ReadRoutes(string appRoot)
    {
        var routes = new List<Route>();
        foreach (var dir in Directory.EnumerateDirectories(appRoot))
        {
            var file = Path.Combine(dir, "function.json");
            if (!File.Exists(file)) continue;
            var function = Path.GetFileName(Path.GetDirectoryName(file)!);
            var bindings = JsonNode.Parse(File.ReadAllText(file))?["bindings"]?.AsArray() ?? [];
            foreach (var b in bindings)
            {
                if ((string?)b?["type"] != "httpTrigger") continue;
                var route = (string?)b["route"] ?? function;
                var methods = b["methods"]?.AsArray().Select(m => ((string?)m ?? "").ToUpperInvariant()).ToArray() ?? ["GET", "POST"];
                routes.Add(new Route(function, route.Split('/', StringSplitOptions.RemoveEmptyEntries), methods));
            }
        }
        return routes;
    }

    /// <summary>Matches a path (without /api/) against the routes: literal segments, {name} and a final {*name}.</summary>
    public static (Route Route, Dictionary<string, string> Params)? Match(IEnumerable<Route> routes, string method, string path)
    {
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var r in routes)
        {
            if (!r.Methods.Contains(method)) continue;
            var ps = new Dictionary<string, string>(StringComparer.Ordinal);
            bool ok = true;
            for (int i = 0; ok && i < r.Segments.Length; i++)
            {
                var seg = r.Segments[i];
                if (seg.StartsWith("{*", StringComparison.Ordinal))
                {
                    ps[seg[2..^1]] = string.Join('/', parts.Skip(i));
                    parts = parts[..i];
                    break;
                }
                if (i >= parts.Length) ok = false;
                else if (seg.StartsWith('{')) ps[seg[1..^1]] = Uri.UnescapeDataString(parts[i]);
                else ok = string.Equals(seg, parts[i], StringComparison.OrdinalIgnoreCase);
            }
            if (ok && parts.Length <= r.Segments.Length && (parts.Length == r.Segments.Length || r.Segments[^1].StartsWith("{*", StringComparison.Ordinal)))
                return (r, ps);
        }
        return null;
    }

    /// <summary>Maps /api/{**path} and the blob links onto <paramref name="app"/>.</summary>
    public static void Map(WebApplication app, string appRoot)
    {
        var routes = ReadRoutes(appRoot);
        var client = new HttpClient();
        app.Lifetime.ApplicationStopping.Register(client.Dispose);

        app.MapGet(BlobPrefix + "{**path}", async (HttpContext ctx, string path, IBlobStore store, ILinkSigner signer) =>
        {
            if (signer is not LocalLinkSigner local || !local.Verify(path, ctx.Request.Query["exp"], ctx.Request.Query["sig"]))
                return Results.StatusCode(403);
            var blob = await store.GetBytesAsync(path, ctx.RequestAborted);
            return blob is null ? Results.NotFound() : Results.Bytes(blob.Value.Bytes, ContentTypeOf(path));
        });

        app.Map("/api/{**path}", async (HttpContext ctx, string? path) =>
        {
            var match = Match(routes, ctx.Request.Method, path ?? "");
            if (match is null) return Results.NotFound();
            string? body = null;
            if (ctx.Request.ContentLength > 0 || ctx.Request.Headers.TransferEncoding.Count > 0)
                body = await new StreamReader(ctx.Request.Body).ReadToEndAsync(ctx.RequestAborted);
            var req = new JsonObject
            {
                ["Url"] = $"{ctx.Request.Scheme}://{ctx.Request.Host}{ctx.Request.Path}{ctx.Request.QueryString}",
                ["Method"] = ctx.Request.Method,
                ["Query"] = JsonSerializer.SerializeToNode(ctx.Request.Query.ToDictionary(q => q.Key, q => q.Value.ToString())),
                ["Headers"] = JsonSerializer.SerializeToNode(ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.Select(v => v ?? "").ToArray())),
                ["Params"] = JsonSerializer.SerializeToNode(match.Value.Params),
                ["Body"] = body,
            };
            var payload = new JsonObject { ["Data"] = new JsonObject { ["req"] = req }, ["Metadata"] = new JsonObject() };
            var self = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            using var content = new StringContent(payload.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
            using var answer = await client.PostAsync($"{self}/{match.Value.Route.Function}", content, ctx.RequestAborted);
            var result = JsonNode.Parse(await answer.Content.ReadAsStringAsync(ctx.RequestAborted)) as JsonObject;
            if (Invocation.Get(Invocation.Get(result, "Outputs") as JsonObject, "res") is not JsonObject res) return Results.StatusCode(502);
            var headers = res["headers"] as JsonObject ?? [];
            foreach (var (k, v) in headers)
                if (!k.Equals("Content-Type", StringComparison.OrdinalIgnoreCase)) ctx.Response.Headers[k] = (string?)v;
            return Results.Text((string?)res["body"] ?? "", (string?)headers["Content-Type"] ?? "text/plain", statusCode: (int?)res["statusCode"] ?? 200);
        });
    }

    internal static string ContentTypeOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => "image/png",
        ".jpg" or ".jpeg" => "image/jpeg",
        ".webp" => "image/webp",
        ".json" => "application/json",
        _ => "application/octet-stream",
    };
}

/// <summary>
/// Links to a local store's blobs through the local front door: /api/_blobs/&lt;path&gt;?exp=&amp;sig= with an HMAC over
/// path and expiry under a key that lives only in this process, so links expire like SAS and cannot be forged.
/// </summary>
public sealed class LocalLinkSigner(TimeProvider time) : ILinkSigner
{
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);

    /// <inheritdoc />
    public Task<Uri?> SignAsync(string path, TimeSpan lifetime, CancellationToken cancellationToken)
    {
        BlobLayout.Split(path); // only paths inside a known area
        var exp = (time.GetUtcNow() + lifetime).ToUnixTimeSeconds();
        var url = $"{LocalFrontDoor.BlobPrefix}{Uri.EscapeDataString(path).Replace("%2F", "/", StringComparison.Ordinal)}?exp={exp}&sig={Sign(path, exp)}";
        return Task.FromResult<Uri?>(new Uri(url, UriKind.Relative));
    }

    /// <summary>True for an unexpired link this process signed.</summary>
    public bool Verify(string path, string? exp, string? sig)
    {
        if (!long.TryParse(exp, out var e) || e < time.GetUtcNow().ToUnixTimeSeconds() || sig is null) return false;
        if (!BlobNames.IsSafeRelative(path, out _)) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Sign(path, e)), Encoding.ASCII.GetBytes(sig));
    }

    private string Sign(string path, long exp) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(path + "\n" + exp.ToString(System.Globalization.CultureInfo.InvariantCulture))));
}
