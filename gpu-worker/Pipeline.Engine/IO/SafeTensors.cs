using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace Pipeline.Engine.IO;

/// <summary>Reads and writes the safetensors format: u64 header length, JSON header, raw little-endian data.</summary>
public static class SafeTensors
{
    private const long MaxHeader = 100 * 1024 * 1024;

    /// <summary>Loads every tensor (CPU) in file order, and the optional "__metadata__" map.</summary>
    public static (OrderedDictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) LoadWithMetadata(string path)
    {
        var bytes = File.ReadAllBytes(path);
        try
        {
            return Parse(bytes);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or OverflowException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a valid safetensors file ({e.Message})", e);
        }
    }

    public static OrderedDictionary<string, Tensor> Load(string path) => LoadWithMetadata(path).Tensors;

    private static (OrderedDictionary<string, Tensor>, Dictionary<string, string>) Parse(byte[] bytes)
    {
        if (bytes.Length < 8) throw new InvalidDataException("safetensors file is shorter than its 8-byte header length");
        long n = BitConverter.ToInt64(bytes, 0);
        if (n <= 0 || n > MaxHeader || 8 + n > bytes.Length) throw new InvalidDataException($"safetensors header length {n} is invalid for a {bytes.Length}-byte file");
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        long dataStart = 8 + n;
        var tensors = new OrderedDictionary<string, Tensor>();
        var meta = new Dictionary<string, string>();
        var entries = new List<(string Name, long Begin, ScalarType DType, long[] Shape, long End)>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                foreach (var m in p.Value.EnumerateObject()) meta[m.Name] = m.Value.GetString() ?? "";
                continue;
            }
            var dtype = DTypes.FromSafetensors(p.Value.GetProperty("dtype").GetString()!);
            var shape = p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var offs = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offs.Length != 2 || offs[0] < 0 || offs[1] < offs[0] || dataStart + offs[1] > bytes.Length)
                throw new InvalidDataException($"tensor '{p.Name}' has data offsets outside the file");
            long numel = shape.Aggregate(1L, (a, b) => checked(a * b));
            if (checked(numel * DTypes.ElementSize(dtype)) != offs[1] - offs[0])
                throw new InvalidDataException($"tensor '{p.Name}' byte size does not match its shape and dtype");
            entries.Add((p.Name, offs[0], dtype, shape, offs[1]));
        }
        foreach (var e in entries.OrderBy(e => e.Begin))
            tensors[e.Name] = DTypes.FromBytes(bytes.AsSpan((int)(dataStart + e.Begin), (int)(e.End - e.Begin)), e.DType, e.Shape);
        return (tensors, meta);
    }

    /// <summary>Writes tensors (any device; copied to CPU) with optional metadata. Atomic: writes a temp file then renames.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var (name, t) in tensors)
        {
            var data = DTypes.ToBytes(t);
            header[name] = new { dtype = DTypes.ToSafetensors(t.dtype), shape = t.shape, data_offsets = new[] { offset, offset + data.Length } };
            offset += data.Length;
            blobs.Add(data);
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int pad = (8 - json.Length % 8) % 8; // align data start to 8 bytes, as the reference writer does
        var tmp = path + ".tmp";
        using (var fs = File.Create(tmp))
        {
            fs.Write(BitConverter.GetBytes((long)(json.Length + pad)));
            fs.Write(json);
            for (int i = 0; i < pad; i++) fs.WriteByte((byte)' ');
            foreach (var b in blobs) fs.Write(b);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
