using System.Security.Cryptography;
using System.Text;

namespace Pipeline.Infra.Contracts;

/// <summary>Options of job id derivation.</summary>
public sealed record JobIdOptions
{
    /// <summary>
    /// Optional secret (app setting <c>Pipeline__JobIdKey</c>). With it ids are HMAC-SHA256, so someone who knows an
    /// upload's name and ETag still cannot compute its job id and read its results URL. Without it, plain SHA-256.
    /// </summary>
    public byte[]? Key { get; init; }
}

/// <summary>
/// Deterministic job ids: the same job body (input blob path + ETag, kind, every parameter) always gives the
/// same id, any change gives another. Ids are "&lt;kind-prefix&gt;-&lt;52 base32 chars&gt;" (260 bits; URL- and
/// blob-name-safe, well under Service Bus's 128-char MessageId limit).
/// </summary>
public static class JobIds
{
    /// <summary>The id of a job body.</summary>
    public static string For(JobSpec job, JobIdOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(job);
        // The body is serialized through its base type so the "kind" discriminator is part of the hashed bytes.
        var canonical = JobJson.ToUtf8<JobSpec>(job);
        return Prefix(job.Kind) + "-" + Hash(canonical, options?.Key);
    }

    /// <summary>A stable id for any other input (e.g. an upload id from blob name + ETag).</summary>
    public static string ForParts(string prefix, JobIdOptions? options, params string[] parts)
    {
        var joined = Encoding.UTF8.GetBytes(string.Join('\n', parts.Select(p => p.Length.ToString() + ":" + p)));
        return prefix + "-" + Hash(joined, options?.Key);
    }

    private static string Prefix(JobKind kind) => kind switch
    {
        JobKind.Projection => "prj",
        JobKind.Translation => "trn",
        JobKind.Augmentation => "aug",
        JobKind.Metrics => "met",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown job kind."),
    };

    private static string Hash(byte[] data, byte[]? key)
    {
        var digest = key is { Length: > 0 } ? HMACSHA256.HashData(key, data) : SHA256.HashData(data);
        return Base32(digest);
    }

    // RFC 4648 base32, lower case, no padding: case-insensitive stores and URLs both keep it intact.
    private static string Base32(ReadOnlySpan<byte> bytes)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var sb = new StringBuilder((bytes.Length * 8 + 4) / 5);
        int buffer = 0, bits = 0;
        foreach (var b in bytes)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                sb.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0) sb.Append(alphabet[(buffer << (5 - bits)) & 31]);
        return sb.ToString();
    }
}
