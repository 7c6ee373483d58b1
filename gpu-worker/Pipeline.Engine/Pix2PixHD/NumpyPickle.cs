using System.Buffers.Binary;
using System.Text;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>A NumPy array rebuilt from a pickle: shape, dtype string (e.g. "&lt;f8", "|O") and either numbers or objects.</summary>
public sealed class NdArray
{
    public long[] Shape { get; internal set; } = [];
    public string DType { get; internal set; } = "";
    public double[]? Numbers { get; internal set; }
    public List<object?>? Objects { get; internal set; }
}

/// <summary>
/// A restricted unpickler for what `np.save` writes for object arrays (a dict of float arrays, such as the
/// reference's `features_clustered_NNN.npy`). It builds only NumPy arrays, dtypes and scalars; any other class is
/// refused, so a crafted file cannot run code.
/// </summary>
public static class NumpyPickle
{
    private sealed record Global(string Module, string Name);
    private sealed class DTypeObj { public string Kind = ""; public string Order = "|"; }
    private sealed class Mark;
    private static readonly Mark MarkObj = new();

    /// <summary>Reads a `.npy` file and returns the pickled object of a 0-d object array (or the array itself otherwise).</summary>
    public static object? LoadNpy(byte[] data)
    {
        if (data.Length < 10 || data[0] != 0x93 || Encoding.ASCII.GetString(data, 1, 5) != "NUMPY")
            throw new InvalidDataException("not a .npy file (bad magic)");
        int major = data[6];
        int headerLen = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(8)) : BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(8));
        int start = (major == 1 ? 10 : 12) + headerLen;
        var header = Encoding.ASCII.GetString(data, major == 1 ? 10 : 12, headerLen);
        if (!header.Contains("'|O'", StringComparison.Ordinal))
            throw new InvalidDataException($".npy holds a plain array ({header.Trim()}), not the pickled dict of a cluster file");
        var obj = Load(data.AsSpan(start).ToArray());
        return obj is NdArray { Objects: { Count: 1 } objs, Shape.Length: 0 } ? objs[0] : obj;
    }

    public static object? Load(byte[] p)
    {
        var stack = new List<object?>();
        var memo = new Dictionary<long, object?>();
        int i = 0;
        object? Pop() { var v = stack[^1]; stack.RemoveAt(stack.Count - 1); return v; }
        List<object?> PopMark()
        {
            int m = stack.FindLastIndex(o => ReferenceEquals(o, MarkObj));
            if (m < 0) throw new InvalidDataException("pickle: MARK not found");
            var items = stack.GetRange(m + 1, stack.Count - m - 1);
            stack.RemoveRange(m, stack.Count - m);
            return items;
        }
        string Line() { int e = Array.IndexOf(p, (byte)'\n', i); var s = Encoding.UTF8.GetString(p, i, e - i); i = e + 1; return s; }
        byte[] Bytes(long n) { var b = p.AsSpan(i, checked((int)n)).ToArray(); i += (int)n; return b; }
        while (true)
        {
            if (i >= p.Length) throw new InvalidDataException("pickle ended without STOP");
            byte op = p[i++];
            switch (op)
            {
                case 0x80: i++; break; // PROTO
                case 0x95: i += 8; break; // FRAME
                case (byte)'c': { var m = Line(); var n = Line(); stack.Add(new Global(m, n)); break; }
                case 0x93: { var n = (string)Pop()!; var m = (string)Pop()!; stack.Add(new Global(m, n)); break; }
                case 0x8c: stack.Add(Encoding.UTF8.GetString(Bytes(p[i++]))); break;
                case (byte)'X': { long n = BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(i)); i += 4; stack.Add(Encoding.UTF8.GetString(Bytes(n))); break; }
                case 0x8d: { long n = BinaryPrimitives.ReadInt64LittleEndian(p.AsSpan(i)); i += 8; stack.Add(Encoding.UTF8.GetString(Bytes(n))); break; }
                case (byte)'C': stack.Add(Bytes(p[i++])); break;
                case (byte)'B': { long n = BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(i)); i += 4; stack.Add(Bytes(n)); break; }
                case 0x8e: { long n = BinaryPrimitives.ReadInt64LittleEndian(p.AsSpan(i)); i += 8; stack.Add(Bytes(n)); break; }
                case (byte)'K': stack.Add((long)p[i++]); break;
                case (byte)'M': stack.Add((long)BinaryPrimitives.ReadUInt16LittleEndian(p.AsSpan(i))); i += 2; break;
                case (byte)'J': stack.Add((long)BinaryPrimitives.ReadInt32LittleEndian(p.AsSpan(i))); i += 4; break;
                case 0x8a:
                {
                    int n = p[i++];
                    long v = 0;
                    for (int k = n - 1; k >= 0; k--) v = (v << 8) | p[i + k];
                    if (n > 0 && n < 8 && (p[i + n - 1] & 0x80) != 0) v -= 1L << (8 * n);
                    i += n; stack.Add(v); break;
                }
                case (byte)'G': stack.Add(BinaryPrimitives.ReadDoubleBigEndian(p.AsSpan(i))); i += 8; break;
                case (byte)'N': stack.Add(null); break;
                case 0x88: stack.Add(true); break;
                case 0x89: stack.Add(false); break;
                case (byte)'(': stack.Add(MarkObj); break;
                case (byte)'t': stack.Add(PopMark().ToArray()); break;
                case (byte)')': stack.Add(Array.Empty<object?>()); break;
                case 0x85: stack.Add(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); stack.Add(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); stack.Add(new[] { a, b, c }); break; }
                case (byte)']': stack.Add(new List<object?>()); break;
                case (byte)'}': stack.Add(new Dictionary<object, object?>()); break;
                case (byte)'a': { var v = Pop(); ((List<object?>)stack[^1]!).Add(v); break; }
                case (byte)'e': { var items = PopMark(); ((List<object?>)stack[^1]!).AddRange(items); break; }
                case (byte)'s': { var v = Pop(); var k = Pop()!; ((Dictionary<object, object?>)stack[^1]!)[k] = v; break; }
                case (byte)'u':
                {
                    var items = PopMark();
                    var d = (Dictionary<object, object?>)stack[^1]!;
                    for (int k = 0; k + 1 < items.Count; k += 2) d[items[k]!] = items[k + 1];
                    break;
                }
                case (byte)'q': memo[p[i++]] = stack[^1]; break;
                case (byte)'r': memo[BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(i))] = stack[^1]; i += 4; break;
                case 0x94: memo[memo.Count] = stack[^1]; break;
                case (byte)'h': stack.Add(memo[p[i++]]); break;
                case (byte)'j': stack.Add(memo[BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(i))]); i += 4; break;
                case (byte)'R': { var args = (object?[])Pop()!; var f = Pop(); stack.Add(Reduce(f, args)); break; }
                case (byte)'b': { var state = Pop(); Build(stack[^1], state); break; }
                case (byte)'.': return Pop();
                default: throw new InvalidDataException($"pickle opcode 0x{op:x2} at {i - 1} is not supported by the restricted NumPy unpickler");
            }
        }
    }

    private static bool IsNumpy(Global g, string name) =>
        g.Name == name && g.Module is "numpy.core.multiarray" or "numpy._core.multiarray" or "numpy";

    private static object? Reduce(object? f, object?[] args)
    {
        if (f is not Global g) throw new InvalidDataException("pickle: REDUCE on a non-callable");
        if (IsNumpy(g, "_reconstruct")) return new NdArray();
        if (g.Name == "dtype" && g.Module == "numpy") return new DTypeObj { Kind = (string)args[0]! };
        if (IsNumpy(g, "scalar"))
        {
            var dt = (DTypeObj)args[0]!;
            var raw = (byte[])args[1]!;
            return dt.Kind switch
            {
                "i8" => BitConverter.ToInt64(raw), "i4" => (long)BitConverter.ToInt32(raw),
                "f8" => BitConverter.ToDouble(raw), "f4" => (double)BitConverter.ToSingle(raw),
                _ => throw new InvalidDataException($"numpy scalar of dtype {dt.Kind} is not supported"),
            };
        }
        throw new InvalidDataException($"pickle references {g.Module}.{g.Name}, which this restricted reader refuses to build");
    }

    private static void Build(object? target, object? state)
    {
        switch (target)
        {
            case DTypeObj dt when state is object?[] s && s.Length > 1:
                dt.Order = (string)s[1]!;
                break;
            case NdArray a when state is object?[] s && s.Length >= 5:
                a.Shape = ((object?[])s[1]!).Select(v => (long)v!).ToArray();
                var dtype = (DTypeObj)s[2]!;
                a.DType = (dtype.Order == "|" ? "|" : dtype.Order) + dtype.Kind;
                if (s[4] is List<object?> objs) a.Objects = objs;
                else if (s[4] is byte[] raw) a.Numbers = Decode(raw, dtype);
                else throw new InvalidDataException("numpy array data is neither bytes nor an object list");
                break;
            default:
                throw new InvalidDataException($"pickle BUILD on unsupported object {target?.GetType().Name ?? "None"}");
        }
    }

    private static double[] Decode(byte[] raw, DTypeObj dt)
    {
        if (dt.Order == ">") throw new InvalidDataException("big-endian numpy arrays are not supported");
        return dt.Kind switch
        {
            "f8" => Enumerable.Range(0, raw.Length / 8).Select(k => BitConverter.ToDouble(raw, 8 * k)).ToArray(),
            "f4" => Enumerable.Range(0, raw.Length / 4).Select(k => (double)BitConverter.ToSingle(raw, 4 * k)).ToArray(),
            "i8" => Enumerable.Range(0, raw.Length / 8).Select(k => (double)BitConverter.ToInt64(raw, 8 * k)).ToArray(),
            _ => throw new InvalidDataException($"numpy dtype {dt.Kind} is not supported"),
        };
    }
}
