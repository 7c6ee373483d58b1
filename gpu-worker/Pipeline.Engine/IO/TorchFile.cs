using System.Buffers.Binary;
using System.IO.Compression;
using System.Numerics;
using Pipeline.Engine.IO.Pickle;
using static TorchSharp.torch;

namespace Pipeline.Engine.IO;

/// <summary>
/// Reads files written by torch.save, both the zip format (PyTorch >= 1.6) and the legacy format, with a
/// restricted unpickler that never executes anything.
/// The result is a tree: dicts are OrderedDictionary&lt;string, object?&gt; (non-string keys are stringified),
/// lists List&lt;object?&gt;, tuples object?[], str string, int long (or BigInteger), float double, bool, None null,
/// tensors CPU <see cref="Tensor"/>s of their stored dtype (storages tagged for CUDA are loaded to the CPU),
/// numpy arrays float/int tensors, and objects of other classes <see cref="PickleUnsupported"/>.
/// </summary>
public static class TorchFile
{
    private static readonly byte[] LegacyMagic = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]; // 0x1950a86a20f9469cfc6c

    /// <summary>Loads a torch.save file. Malformed or truncated files raise <see cref="InvalidDataException"/> naming the file.</summary>
    public static object? Load(string path)
    {
        byte[] data;
        try { data = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new FileNotFoundException($"checkpoint file not found: {path}", path); }
        try
        {
            return Load(data);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    /// <summary>Loads torch.save bytes (zip or legacy format); anything malformed raises <see cref="InvalidDataException"/>.</summary>
    public static object? Load(byte[] data)
    {
        try
        {
            return LoadUnchecked(data);
        }
        catch (Exception e) when (e is EndOfStreamException or ArgumentException or OverflowException or IndexOutOfRangeException
                                      or InvalidCastException or KeyNotFoundException or NotSupportedException or FormatException)
        {
            throw new InvalidDataException("malformed checkpoint: " + e.Message, e);
        }
    }

    private static object? LoadUnchecked(byte[] data)
    {
        if (data.Length >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4)
            return LoadZip(data);
        if (data.Length >= 2 && data[0] == 0x80)
            return LoadLegacy(data);
        if (data.Length > 262 && System.Text.Encoding.ASCII.GetString(data, 257, 5) == "ustar")
            throw new InvalidDataException("this is the pre-0.4 tar-based torch format, which is not supported; re-save it with a newer PyTorch");
        throw new InvalidDataException(data.Length == 0 ? "the file is empty" : "not a PyTorch checkpoint (neither a torch.save zip archive nor the legacy pickle format)");
    }

    /// <summary>
    /// Writes a checkpoint tree in the torch.save zip format (what PyTorch >= 1.6 writes, so torch.load and our
    /// reader both load it): dicts, lists, tuples, scalars, strings and tensors (saved contiguous, on the CPU).
    /// Atomic: the file appears complete or not at all.
    /// </summary>
    public static void Save(string path, object? tree, string archiveName = "archive")
    {
        var tmp = path + ".tmp";
        using (var fs = File.Create(tmp))
        using (var zip = new ZipArchive(fs, ZipArchiveMode.Create))
        {
            var pkl = new MemoryStream();
            var writer = new PickleWriter(pkl);
            writer.WriteRoot(tree);
            void Entry(string name, ReadOnlySpan<byte> bytes)
            {
                using var s = zip.CreateEntry(archiveName + "/" + name, CompressionLevel.NoCompression).Open();
                s.Write(bytes);
            }
            Entry("data.pkl", pkl.ToArray());
            Entry("byteorder", "little"u8);
            for (int i = 0; i < writer.Storages.Count; i++)
                Entry("data/" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), DTypes.ToBytes(writer.Storages[i]));
            Entry("version", "3\n"u8);
            Entry(".data/version", "3\n"u8);
        }
        File.Move(tmp, path, overwrite: true);
    }

    private static object? LoadZip(byte[] data)
    {
        ZipArchive zip;
        try { zip = new ZipArchive(new MemoryStream(data, writable: false), ZipArchiveMode.Read); }
        catch (InvalidDataException e) { throw new InvalidDataException("corrupt zip archive: " + e.Message, e); }
        using (zip)
        {
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1)
                      ?? throw new InvalidDataException("zip archive has no <name>/data.pkl: not a torch.save file");
            string prefix = pkl.FullName[..^"data.pkl".Length];
            var byteorder = zip.GetEntry(prefix + "byteorder");
            if (byteorder is not null && ReadEntry(byteorder).AsSpan().SequenceEqual("big"u8))
                throw new InvalidDataException("big-endian checkpoints are not supported");
            var storages = new Dictionary<string, StorageRef>();
            var reader = new PickleReader(ReadEntry(pkl), 0, (int)pkl.Length, pid => PersistentStorage(pid, storages));
            var root = reader.Load();
            var bytes = new Dictionary<string, byte[]>();
            foreach (var key in storages.Keys)
            {
                var entry = zip.GetEntry(prefix + "data/" + key) ?? throw new InvalidDataException($"storage '{key}' is missing from the archive");
                bytes[key] = ReadEntry(entry);
            }
            return Materialize(root, storages, bytes);
        }
    }

    private static byte[] ReadEntry(ZipArchiveEntry e)
    {
        if (e.Length > int.MaxValue || e.Length > 64L * Math.Max(e.CompressedLength, 1))
            throw new InvalidDataException($"archive entry {e.FullName} declares an implausible size ({e.Length} bytes)");
        var buf = new byte[e.Length];
        using var s = e.Open();
        try { s.ReadExactly(buf); }
        catch (EndOfStreamException) { throw new InvalidDataException($"archive entry {e.FullName} is truncated"); }
        return buf;
    }

    private static object? LoadLegacy(byte[] data)
    {
        var storages = new Dictionary<string, StorageRef>();
        int pos = 0;
        object? Next(Func<object?, object?>? persistent = null)
        {
            var r = new PickleReader(data, pos, data.Length - pos, persistent);
            var o = r.Load();
            pos = r.Position;
            return o;
        }
        var magic = Next();
        if (magic is not BigInteger m || m != new BigInteger(LegacyMagic, isUnsigned: true))
            throw new InvalidDataException("not a PyTorch checkpoint (the legacy magic number is missing)");
        if (Next() is not long protocol || protocol != 1001)
            throw new InvalidDataException("unsupported legacy torch.save protocol version");
        if (Next() is OrderedDictionary<string, object?> sysInfo && sysInfo.TryGetValue("little_endian", out var le) && le is false)
            throw new InvalidDataException("big-endian checkpoints are not supported");
        var root = Next(pid => PersistentStorage(pid, storages));
        if (Next() is not List<object?> keys) throw new InvalidDataException("legacy checkpoint has no storage key list (file truncated?)");
        var bytes = new Dictionary<string, byte[]>();
        foreach (var k in keys)
        {
            var key = k as string ?? throw new InvalidDataException("storage key is not a string");
            if (!storages.TryGetValue(key, out var s)) throw new InvalidDataException($"storage '{key}' is listed but never referenced");
            if (data.Length - pos < 8) throw new InvalidDataException($"storage '{key}' is truncated");
            long numel = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(pos));
            pos += 8;
            long n = checked(numel * DTypes.ElementSize(s.DType));
            if (numel < 0 || n > data.Length - pos) throw new InvalidDataException($"storage '{key}' is truncated: {numel} elements declared");
            bytes[key] = data.AsSpan(pos, (int)n).ToArray();
            pos += (int)n;
        }
        return Materialize(root, storages, bytes);
    }

    private static object PersistentStorage(object? pid, Dictionary<string, StorageRef> storages)
    {
        // ('storage', storage_type, key, location, numel[, view_metadata])
        if (pid is not object?[] { Length: >= 5 } t || t[0] is not "storage")
            throw new InvalidDataException("unsupported persistent id (only tensor storages are supported)");
        var key = t[2] as string ?? throw new InvalidDataException("storage key is not a string");
        var dtype = t[1] switch
        {
            PyGlobal g when g.Name == "UntypedStorage" => ScalarType.Byte,
            PyGlobal g => DTypes.FromTorchStorage(g.Name),
            _ => throw new InvalidDataException("storage type is not a torch storage class"),
        };
        long numel = t[4] is long n && n >= 0 ? n : throw new InvalidDataException("storage size is not an integer");
        if (storages.TryGetValue(key, out var existing)) return existing;
        var s = new StorageRef(key, dtype, t[3] as string ?? "cpu", numel);
        storages[key] = s;
        return s;
    }

    private static object? Materialize(object? root, Dictionary<string, StorageRef> storages, Dictionary<string, byte[]> bytes)
    {
        var flat = new Dictionary<string, Tensor>();
        Tensor Storage(StorageRef s)
        {
            if (flat.TryGetValue(s.Key, out var t)) return t;
            var b = bytes[s.Key];
            long have = b.Length / DTypes.ElementSize(s.DType);
            if (have < s.Numel) throw new InvalidDataException($"storage '{s.Key}' holds {have} elements, {s.Numel} declared");
            t = DTypes.FromBytes(b, s.DType, [s.Numel]);
            flat[s.Key] = t;
            return t;
        }
        object? Walk(object? node)
        {
            switch (node)
            {
                case LazyTensor lt:
                {
                    // The view is a tensor of its own: freed here, not left to the GC once per tensor of every file.
                    using var view = Storage(lt.Storage).as_strided(lt.Size, lt.Stride, lt.Offset);
                    return view.clone();
                }
                case OrderedDictionary<string, object?> d:
                    foreach (var k in d.Keys.ToList()) d[k] = Walk(d[k]);
                    return d;
                case List<object?> l:
                    for (int i = 0; i < l.Count; i++) l[i] = Walk(l[i]);
                    return l;
                case object?[] a:
                    for (int i = 0; i < a.Length; i++) a[i] = Walk(a[i]);
                    return a;
                case StorageRef s:
                    return Storage(s).clone();
                default:
                    return node;
            }
        }
        var result = Walk(root);
        foreach (var t in flat.Values) t.Dispose();
        return result;
    }
}
