using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Pipeline.Functions.Http;
using Pipeline.Infra.Uploads;

namespace Pipeline.Functions.Services;

/// <summary>
/// Authorization of the HTTP functions. Their auth level is anonymous (the platform's keys are not used); this is the
/// gate: Easy Auth's principal in Azure, a function key locally and in tests.
/// </summary>
public sealed class HttpAuth(IOptions<HttpAuthOptions> options)
{
    private readonly HttpAuthOptions _options = options.Value;
    // Digests of the keys, so every comparison is over 32 bytes whatever the lengths (no length or prefix leaks).
    private readonly byte[][] _keyDigests = options.Value.Keys.Where(k => k.Length > 0).Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k))).ToArray();

    /// <summary>True when the caller may use the API and the dashboard.</summary>
    public bool IsAuthorized(HttpTriggerRequest request)
    {
        switch (_options.Auth.ToLowerInvariant())
        {
            case "keys":
                var presented = request.Header("x-functions-key") ?? request.Query("code");
                return !string.IsNullOrEmpty(presented) && IsKey(presented);
            case "easyauth":
                // App Service authentication strips client-sent X-MS-* headers and sets these after validating the token.
                return !string.IsNullOrEmpty(request.Header("X-MS-CLIENT-PRINCIPAL-ID"));
            default:
                return false;
        }
    }

    /// <summary>Constant-time key check: every configured key is compared (no early exit), digest against digest.</summary>
    public bool IsKey(string presented)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        bool match = false;
        foreach (var key in _keyDigests) match |= CryptographicOperations.FixedTimeEquals(key, digest);
        return match;
    }

    /// <summary>
    /// Authorizes (unless <paramref name="isPublic"/> says the request needs none), runs <paramref name="body"/>, and
    /// turns argument errors into a 400 problem.
    /// </summary>
    public async Task<IResult> RunAsync(HttpTriggerRequest request, Func<HttpTriggerRequest, Task<IResult>> body, Func<HttpTriggerRequest, bool>? isPublic = null)
    {
        if (!(isPublic?.Invoke(request) ?? false) && !IsAuthorized(request))
            return HttpTriggerResponse.Problem(401, "unauthorized", "Sign in, or pass a function key (x-functions-key header or ?code=).");
        try
        {
            return await body(request);
        }
        catch (ArgumentException ex)
        {
            return HttpTriggerResponse.Problem(400, UploadCodes.BadRequest, ex.Message);
        }
    }
}
