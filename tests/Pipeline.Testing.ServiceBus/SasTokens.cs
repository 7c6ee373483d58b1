using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Testing.ServiceBus;

/// <summary>
/// Checks a Service Bus shared access signature:
/// <c>SharedAccessSignature sr={url-encoded resource}&amp;sig={signature}&amp;se={unix expiry}&amp;skn={key name}</c>,
/// where signature = base64(HMAC-SHA256(key, sr + "\n" + se)).
/// </summary>
public static class SasTokens
{
    private const string Prefix = "SharedAccessSignature ";

    /// <summary>True when <paramref name="token"/> is signed with <paramref name="key"/> under <paramref name="keyName"/> and has not expired.</summary>
    public static bool Verify(string? token, string keyName, string key, DateTimeOffset now, out string reason)
    {
        if (token is null || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            reason = "Not a SharedAccessSignature token.";
            return false;
        }
        var fields = token[Prefix.Length..].Split('&')
            .Select(p => p.Split('=', 2))
            .Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        if (!fields.TryGetValue("sr", out var resource) || !fields.TryGetValue("sig", out var sig) || !fields.TryGetValue("se", out var expiry) || !fields.TryGetValue("skn", out var skn))
        {
            reason = "The token lacks sr, sig, se or skn.";
            return false;
        }
        if (WebUtility.UrlDecode(skn) != keyName)
        {
            reason = $"Unknown key name '{WebUtility.UrlDecode(skn)}'.";
            return false;
        }
        var se = WebUtility.UrlDecode(expiry);
        if (!long.TryParse(se, NumberStyles.Integer, CultureInfo.InvariantCulture, out var unix) || DateTimeOffset.FromUnixTimeSeconds(unix) <= now)
        {
            reason = "The token has expired.";
            return false;
        }
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(key));
        var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes(resource + "\n" + se));
        byte[] actual;
        try
        {
            actual = Convert.FromBase64String(WebUtility.UrlDecode(sig));
        }
        catch (FormatException)
        {
            reason = "The signature is not base64.";
            return false;
        }
        if (!CryptographicOperations.FixedTimeEquals(expected, actual))
        {
            reason = "The signature does not match the key.";
            return false;
        }
        reason = "";
        return true;
    }
}
