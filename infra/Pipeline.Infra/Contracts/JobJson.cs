using System.Buffers;
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
    /// <remarks>
    /// Not SerializeToUtf8Bytes: it grows a buffer rented from the shared ArrayPool to the document's size, and the pool
    /// then keeps that buffer (a 1 MiB array for an index head) per thread until a later trim, so a long-running worker
    /// holds a few such arrays more or less at random. An unpooled buffer is garbage as soon as the bytes are copied out.
    /// </remarks>
    public static byte[] ToUtf8<T>(T value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = Options.Encoder, Indented = Options.WriteIndented }))
            JsonSerializer.Serialize(writer, value, Options);
        return buffer.WrittenSpan.ToArray();
    }

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
