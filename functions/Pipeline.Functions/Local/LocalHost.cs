using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Pipeline.Functions.Services;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Functions.Local;

/// <summary>
/// `--local`: the dashboard and gallery on one machine without the Functions host (which cannot be installed
/// everywhere). A small ASP.NET Core app maps every HTTP function's route (from its [HttpTrigger] attribute, under
/// /api/ like host.json's route prefix) to the same function class the worker runs, resolved from the same
/// registrations (<see cref="FunctionsApp.AddPipelineFunctions"/>). Images of the local store are served under
/// /api/_blobs/ with expiring HMAC links, the local stand-in for SAS. Azure never runs this path.
/// </summary>
public static class LocalHost
{
    /// <summary>Path prefix of the local blob links.</summary>
    public const string BlobPrefix = "/api/_blobs/";

    /// <summary>host.json's extensions.http.routePrefix.</summary>
    public const string RoutePrefix = "api";

    /// <summary>Builds the local app for <paramref name="local"/>; <paramref name="overrides"/> replaces services (tests).</summary>
    public static WebApplication Create(LocalOptions local, string[] args, Action<WebApplicationBuilder>? configure = null, Action<IServiceCollection>? overrides = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.WebHost.UseUrls($"http://127.0.0.1:{local.Port}");
        builder.Configuration.AddInMemoryCollection(local.Settings());
        configure?.Invoke(builder);
        builder.Services.AddPipelineFunctions(builder.Configuration);
        builder.Services.AddSingleton<LocalLinkSigner>();
        builder.Services.AddSingleton<ILinkSigner>(sp => sp.GetRequiredService<LocalLinkSigner>());
        overrides?.Invoke(builder.Services);
        var app = builder.Build();
        Map(app);
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? $"http://127.0.0.1:{local.Port}";
            local.PrintWelcome(Console.Out, address);
        });
        return app;
    }

    /// <summary>Maps /api/&lt;route&gt; of every HTTP function, and the local blob links.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        foreach (var route in HttpFunctionRoute.All)
            app.MapMethods($"/{RoutePrefix}/{route.Template}", route.Methods, ctx => HttpFunctionRoute.InvokeAsync(route, ctx, ctx.Request.RouteValues.ToDictionary(v => v.Key, v => v.Value?.ToString())))
                .WithDisplayName(route.Function);

        app.MapGet(BlobPrefix + "{**path}", async (HttpContext ctx, string path, IBlobStore store, LocalLinkSigner signer) =>
        {
            if (!signer.Verify(path, ctx.Request.Query["exp"], ctx.Request.Query["sig"]))
                return Results.StatusCode(403);
            var blob = await store.GetBytesAsync(path, ctx.RequestAborted);
            return blob is null ? Results.NotFound() : Results.Bytes(blob.Value.Bytes, ContentTypeOf(path));
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
/// An HTTP function as its attributes declare it (name, route template, methods, auth level) and how to call it with
/// an ASP.NET Core request: the class is resolved from the request's services, HttpRequest/CancellationToken/route
/// values are passed by parameter, and the returned <see cref="IResult"/> is executed, as the worker's ASP.NET Core
/// integration does.
/// </summary>
public sealed record HttpFunctionRoute(string Function, string Template, string[] Methods, AuthorizationLevel AuthLevel, MethodInfo Method)
{
    /// <summary>Every HTTP function of <see cref="FunctionsApp.FunctionClasses"/>.</summary>
    public static IReadOnlyList<HttpFunctionRoute> All { get; } = FunctionsApp.Functions
        .Select(f => (f.Key, f.Value, Trigger: f.Value.GetParameters().Select(p => p.GetCustomAttribute<HttpTriggerAttribute>()).FirstOrDefault(a => a is not null)))
        .Where(f => f.Trigger is not null)
        .Select(f => new HttpFunctionRoute(f.Key, f.Trigger!.Route ?? f.Key, (f.Trigger.Methods ?? ["get", "post"]).Select(m => m.ToUpperInvariant()).ToArray(), f.Trigger.AuthLevel, f.Value))
        .OrderBy(r => r.Function, StringComparer.Ordinal)
        .ToList();

    /// <summary>Calls the function for <paramref name="context"/> with <paramref name="routeValues"/> and writes its answer.</summary>
    public static async Task InvokeAsync(HttpFunctionRoute route, HttpContext context, IReadOnlyDictionary<string, string?> routeValues)
    {
        var instance = context.RequestServices.GetRequiredService(route.Method.DeclaringType!);
        var args = route.Method.GetParameters().Select(p => p.ParameterType switch
        {
            var t when t == typeof(HttpRequest) => context.Request,
            var t when t == typeof(CancellationToken) => context.RequestAborted,
            var t when t == typeof(string) => routeValues.TryGetValue(p.Name!, out var v) && v is not null ? v : p.HasDefaultValue ? p.DefaultValue : null,
            var t => throw new NotSupportedException($"{route.Function}: parameter {p.Name} of type {t} cannot be bound outside the Functions host."),
        }).ToArray();
        var result = await (Task<IResult>)route.Method.Invoke(instance, args)!;
        await result.ExecuteAsync(context);
    }
}

/// <summary>
/// Links to a local store's blobs through the local host: /api/_blobs/&lt;path&gt;?exp=&amp;sig= with an HMAC over
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
        var url = $"{LocalHost.BlobPrefix}{Uri.EscapeDataString(path).Replace("%2F", "/", StringComparison.Ordinal)}?exp={exp}&sig={Sign(path, exp)}";
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
