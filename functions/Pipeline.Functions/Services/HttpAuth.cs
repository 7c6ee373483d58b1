using System.Security.Cryptography;
using System.Text;
using Pipeline.Functions.Host;

namespace Pipeline.Functions.Services;

/// <summary>Authorization of HTTP invocations (the host's auth level is anonymous; this is the gate).</summary>
public sealed class HttpAuth(HttpAuthOptions options)
{
    /// <summary>True when the caller may use the API and the dashboard.</summary>
    public bool IsAuthorized(HttpTriggerRequest request)
    {
        switch (options.Auth.ToLowerInvariant())
        {
            case "keys":
                var presented = request.Header("x-functions-key") ?? request.Query("code");
                if (string.IsNullOrEmpty(presented)) return false;
                var p = Encoding.UTF8.GetBytes(presented);
                // Constant-time comparison, so response timing does not leak key prefixes.
                return options.Keys.Any(k => k.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(k), p));
            case "easyauth":
                // App Service authentication strips client-sent X-MS-* headers and sets these after validating the token.
                return !string.IsNullOrEmpty(request.Header("X-MS-CLIENT-PRINCIPAL-ID"));
            default:
                return false;
        }
    }
}
