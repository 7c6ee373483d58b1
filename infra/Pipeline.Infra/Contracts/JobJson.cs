using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Infra.Contracts;

/// <summary>
/// The one set of serializer options every contract is written and read with. Property order follows
/// declaration order, so the same object always serializes to the same bytes (job ids depend on that).
/// </summary>
public static class JobJson
{
    /// <summary>Shared options: camelCase names, camelCase string enums, nulls omitted.</summary>
    public static JsonSerializerOptions Options { get; } = Create();

    /// <summary>Serializes a contract object to UTF-8 JSON.</summary>
    public static byte[] ToUtf8<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    /// <summary>Reads a contract object; throws <see cref="JsonException"/> with the type name when the JSON is null.</summary>
    public static T FromUtf8<T>(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"Expected a {typeof(T).Name} object, got JSON null.");

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            WriteIndented = false,
            AllowOutOfOrderMetadataProperties = true,
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}
