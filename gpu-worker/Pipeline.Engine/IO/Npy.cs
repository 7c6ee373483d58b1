using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Pipeline.Engine.IO.Pickle;
using static TorchSharp.torch;

namespace Pipeline.Engine.IO;

/// <summary>
/// numpy .npy files: numeric arrays (float16/32/64, int8..64, uint8, bool) read and written as tensors, and
/// object arrays (pickled, e.g. pix2pixHD's per-label feature clusters) read through the restricted unpickler.
/// </summary>
public static partial class Npy
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Loads a numeric .npy as a CPU tensor.</summary>
    public static Tensor Load(string path) =>
        LoadAny(path) as Tensor ?? throw new InvalidDataException($"{path}: an object array, not a numeric one (use LoadAny)");

    /// <summary>Loads a .npy: a Tensor for numeric arrays, the unpickled object for object arrays (0-d object arrays unwrap to their item).</summary>
    public static object? LoadAny(string path)
    {
        try { return Parse(File.ReadAllBytes(path)); }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    internal static object? Parse(byte[] b)
    {
        if (b.Length < 10 || !b.AsSpan(0, 6).SequenceEqual(Magic)) throw new InvalidDataException("not a .npy file (magic missing)");
        int major = b[6];
        int headerLen, start;
        if (major == 1) { headerLen = BitConverter.ToUInt16(b, 8); start = 10; }
        else if (major is 2 or 3) { headerLen = checked((int)BitConverter.ToUInt32(b, 8)); start = 12; }
        else throw new InvalidDataException($".npy version {major} is not supported");
        if (start + headerLen > b.Length) throw new InvalidDataException(".npy header is truncated");
        var header = Encoding.Latin1.GetString(b, start, headerLen);
        var descr = DescrRegex().Match(header) is { Success: true } dm ? dm.Groups[1].Value : throw new InvalidDataException(".npy header has no descr");
        bool fortran = header.Contains("'fortran_order': True", StringComparison.Ordinal);
        var shapeText = ShapeRegex().Match(header) is { Success: true } sm ? sm.Groups[1].Value : throw new InvalidDataException(".npy header has no shape");
        var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        int dataStart = start + headerLen;
        if (descr.EndsWith('O'))
        {
            var obj = new PickleReader(b, dataStart, b.Length - dataStart, null).Load();
            return shape.Length == 0 && obj is not null ? obj : obj;
        }
        char order = descr[0];
        var code = descr[1..];
        var dims = fortran ? shape.Reverse().ToArray() : shape;
        var t = FromRaw(b.AsSpan(dataStart), code, order, dims);
        return fortran && shape.Length > 1 ? t.permute(Enumerable.Range(0, shape.Length).Reverse().Select(i => (long)i).ToArray()).contiguous() : t;
    }

    /// <summary>Builds a tensor from raw numpy bytes of dtype code like "f8", "<f4" byte order given separately.</summary>
    internal static Tensor FromRaw(ReadOnlySpan<byte> raw, string code, char byteOrder, long[] shape)
    {
        if (byteOrder == '>') throw new InvalidDataException("big-endian numpy arrays are not supported");
        if (code.Length > 0 && code[0] is '<' or '|' or '=') code = code[1..];
        var dtype = code switch
        {
            "f2" => ScalarType.Float16,
            "f4" => ScalarType.Float32,
            "f8" => ScalarType.Float64,
            "i1" => ScalarType.Int8,
            "i2" => ScalarType.Int16,
            "i4" => ScalarType.Int32,
            "i8" => ScalarType.Int64,
            "u1" => ScalarType.Byte,
            "b1" => ScalarType.Bool,
            _ => throw new InvalidDataException($"numpy dtype '{code}' is not supported"),
        };
        return DTypes.FromBytes(raw, dtype, shape);
    }

    /// <summary>Writes a tensor as .npy (version 1.0, C order, little-endian). Atomic via a temp file.</summary>
    public static void Save(string path, Tensor t)
    {
        var tmp = path + ".tmp";
        using (var fs = File.Create(tmp)) Write(fs, t);
        File.Move(tmp, path, overwrite: true);
    }

    internal static void Write(Stream s, Tensor t)
    {
        string descr = t.dtype switch
        {
            ScalarType.Float16 => "<f2",
            ScalarType.Float32 => "<f4",
            ScalarType.Float64 => "<f8",
            ScalarType.Int8 => "|i1",
            ScalarType.Int16 => "<i2",
            ScalarType.Int32 => "<i4",
            ScalarType.Int64 => "<i8",
            ScalarType.Byte => "|u1",
            ScalarType.Bool => "|b1",
            _ => throw new NotSupportedException($"dtype {t.dtype} cannot be written to .npy"),
        };
        var shape = t.shape.Length == 1 ? $"({t.shape[0]},)" : "(" + string.Join(", ", t.shape) + ")";
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        s.Write(Magic);
        s.WriteByte(1);
        s.WriteByte(0);
        s.Write(BitConverter.GetBytes((ushort)header.Length));
        s.Write(Encoding.Latin1.GetBytes(header));
        s.Write(DTypes.ToBytes(t));
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrRegex();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapeRegex();
}

/// <summary>numpy .npz archives (np.savez / np.savez_compressed): a zip of .npy files, e.g. FID statistics with mu and sigma.</summary>
public static class Npz
{
    /// <summary>The arrays of an .npz; <paramref name="include"/> (by array name) skips reading the others.</summary>
    public static OrderedDictionary<string, Tensor> Load(string path, Func<string, bool>? include = null)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var result = new OrderedDictionary<string, Tensor>();
            foreach (var e in zip.Entries)
            {
                if (!e.FullName.EndsWith(".npy", StringComparison.Ordinal)) continue;
                if (include is not null && !include(e.FullName[..^4])) continue;
                var buf = new byte[e.Length];
                using (var s = e.Open()) s.ReadExactly(buf);
                result[e.FullName[..^4]] = Npy.Parse(buf) as Tensor ?? throw new InvalidDataException($"array '{e.FullName}' is an object array");
            }
            return result;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or ArgumentException or FormatException)
        {
            throw new InvalidDataException($"{path}: not a valid .npz file ({e.Message})", e);
        }
    }

    /// <summary>Writes arrays into a compressed .npz (as np.savez_compressed). Atomic via a temp file.</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> arrays)
    {
        var tmp = path + ".tmp";
        using (var fs = File.Create(tmp))
        using (var zip = new ZipArchive(fs, ZipArchiveMode.Create))
        {
            foreach (var (name, t) in arrays)
            {
                var e = zip.CreateEntry(name + ".npy", CompressionLevel.Optimal);
                using var s = e.Open();
                Npy.Write(s, t);
            }
        }
        File.Move(tmp, path, overwrite: true);
    }
}
