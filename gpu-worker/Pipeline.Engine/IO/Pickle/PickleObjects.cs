using System.Globalization;
using System.Numerics;
using static TorchSharp.torch;

namespace Pipeline.Engine.IO.Pickle;

/// <summary>A name from a GLOBAL opcode. Never imported: only compared against the names below.</summary>
internal sealed record PyGlobal(string Module, string Name)
{
    public string FullName => Module + "." + Name;
}

/// <summary>A storage named by a persistent id; its bytes are supplied by the container format.</summary>
internal sealed record StorageRef(string Key, ScalarType DType, string Location, long Numel);

/// <summary>A tensor view of a storage, materialised once every storage's bytes are known (legacy files store them after the pickle).</summary>
internal sealed record LazyTensor(StorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>numpy dtype under construction (numpy.dtype(...) then BUILD with the byte-order state).</summary>
internal sealed class NumpyDType(string code)
{
    public string Code { get; } = code;
    public char ByteOrder { get; set; } = '|';
}

/// <summary>numpy.ndarray under construction (numpy.core.multiarray._reconstruct then BUILD with its state).</summary>
internal sealed class NumpyArrayBuilder
{
    public Tensor? Result { get; set; }
}

/// <summary>How the restricted unpickler interprets the classes and functions that checkpoints use.</summary>
internal static class PickleObjects
{
    // Modules whose globals are refused outright, even as placeholders: their presence means a hostile or
    // non-checkpoint pickle, and the user should know rather than get a silently half-loaded file.
    private static readonly string[] Refused =
        ["os", "posix", "nt", "subprocess", "sys", "builtins.eval", "builtins.exec", "builtins.compile", "builtins.open",
         "builtins.__import__", "builtins.getattr", "builtins.setattr", "builtins.globals", "importlib", "shutil", "socket",
         "pickle", "marshal", "runpy", "code", "pty", "ctypes", "webbrowser", "__builtin__.eval", "__builtin__.exec",
         "__builtin__.open", "__builtin__.getattr", "__builtin__.__import__", "io", "functools", "operator", "types"];

    public static object Global(string module, string name)
    {
        var full = module + "." + name;
        foreach (var r in Refused)
            if (module == r || full == r || module.StartsWith(r + ".", StringComparison.Ordinal))
                throw new InvalidDataException($"refusing to load: the file references the global '{full}', which a checkpoint never needs (possibly a malicious pickle)");
        return new PyGlobal(module, name);
    }

    public static object? Call(object? callable, object?[] args)
    {
        if (callable is not PyGlobal g)
            return callable is PickleUnsupported u ? u : PickleReader.Fail<object>($"cannot call a {callable?.GetType().Name ?? "None"}");
        switch (g.FullName)
        {
            case "collections.OrderedDict":
            case "builtins.dict":
            case "__builtin__.dict":
                return NewDict(args);
            case "builtins.list":
                return args.Length > 0 && args[0] is List<object?> l ? new List<object?>(l) : new List<object?>();
            case "builtins.tuple":
            case "torch.Size":
                return args.Length > 0 && args[0] is List<object?> t ? t.ToArray() : args.Length > 0 && args[0] is object?[] a ? a : [];
            case "builtins.set":
            case "builtins.frozenset":
                return args.Length > 0 && args[0] is List<object?> s ? new List<object?>(s) : new List<object?>();
            case "builtins.bytearray":
                return args.Length > 0 && args[0] is byte[] bytes ? bytes : [];
            case "_codecs.encode":
                // Protocol-2 pickles write bytes as _codecs.encode(latin1 string, "latin1").
                return args.Length > 0 && args[0] is string str ? System.Text.Encoding.Latin1.GetBytes(str) : [];
            case "torch._utils._rebuild_tensor":
                return RebuildTensor(args[0], args[1], args[2], args[3]);
            case "torch._utils._rebuild_tensor_v2":
            case "torch._utils._rebuild_tensor_v3":
                return RebuildTensor(args[0], args[1], args[2], args[3]);
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                return args[0];
            case "torch._tensor._rebuild_from_type_v2":
                // (func, new_type, args, state): the subclass is dropped; the data is what we need.
                return Call(args[0], args[2] as object?[] ?? (args[2] as List<object?>)?.ToArray() ?? []);
            case "torch._utils._rebuild_device_tensor_from_numpy":
            case "torch._utils._rebuild_qtensor":
            case "torch._utils._rebuild_sparse_tensor":
            case "torch._utils._rebuild_wrapper_subclass":
                throw new InvalidDataException($"tensor kind '{g.FullName}' is not supported (only dense tensors)");
            case "numpy.core.multiarray._reconstruct":
            case "numpy._core.multiarray._reconstruct":
                return new NumpyArrayBuilder();
            case "numpy.dtype":
                return new NumpyDType(args.Length > 0 ? args[0] as string ?? "?" : "?");
            case "numpy.core.multiarray.scalar":
            case "numpy._core.multiarray.scalar":
                return NumpyScalar(args);
            case "argparse.Namespace":
            default:
                if (g.Module.StartsWith("torch", StringComparison.Ordinal) && g.Name.EndsWith("Storage", StringComparison.Ordinal))
                    return g; // a storage class used as a value
                return new PickleUnsupported(g.FullName);
        }
    }

    // OrderedDict(items): protocol-2 pickles pass the items as a list of [key, value] pairs.
    private static OrderedDictionary<string, object?> NewDict(object?[] args)
    {
        var d = new OrderedDictionary<string, object?>();
        if (args.Length > 0 && args[0] is List<object?> items)
        {
            foreach (var item in items)
            {
                var pair = item as object?[] ?? (item as List<object?>)?.ToArray();
                if (pair is not { Length: 2 }) throw new InvalidDataException("dict items are not key/value pairs");
                d[KeyString(pair[0])] = pair[1];
            }
        }
        else if (args.Length > 0 && args[0] is OrderedDictionary<string, object?> other)
        {
            foreach (var (k, v) in other) d[k] = v;
        }
        return d;
    }

    public static object? Build(object? obj, object? state)
    {
        switch (obj)
        {
            case NumpyDType dt when state is object?[] { Length: > 1 } st && st[1] is string order:
                dt.ByteOrder = order.Length > 0 ? order[0] : '|';
                return dt;
            case NumpyArrayBuilder nb when state is object?[] st:
                return BuildNumpyArray(st);
            default:
                // OrderedDict._metadata, nn.Module attributes, placeholders: state we do not need.
                return obj;
        }
    }

    public static string KeyString(object? key) => key switch
    {
        string s => s,
        long l => l.ToString(CultureInfo.InvariantCulture),
        BigInteger b => b.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "True" : "False",
        null => "None",
        object?[] t => "(" + string.Join(", ", t.Select(KeyString)) + ")",
        _ => key.ToString() ?? "",
    };

    private static LazyTensor RebuildTensor(object? storage, object? offset, object? size, object? stride)
    {
        if (storage is not StorageRef s) throw new InvalidDataException("tensor storage is not a persistent storage reference");
        var sz = ToLongs(size, "size");
        var st = ToLongs(stride, "stride");
        long off = offset is long o ? o : throw new InvalidDataException("tensor storage offset is not an integer");
        if (sz.Length != st.Length) throw new InvalidDataException("tensor size and stride differ in rank");
        long extent = off;
        for (int i = 0; i < sz.Length; i++)
        {
            if (sz[i] < 0 || st[i] < 0) throw new InvalidDataException("negative tensor size or stride");
            if (sz[i] == 0) { extent = -1; break; }
            extent += (sz[i] - 1) * st[i];
        }
        if (off < 0 || (extent >= 0 && extent >= s.Numel))
            throw new InvalidDataException($"tensor view [{string.Join(", ", sz)}] at offset {off} exceeds its storage of {s.Numel} elements");
        return new LazyTensor(s, off, sz, st);
    }

    internal static long[] ToLongs(object? o, string what) => o switch
    {
        object?[] a => a.Select(x => x is long l ? l : throw new InvalidDataException($"tensor {what} holds a non-integer")).ToArray(),
        List<object?> l => l.Select(x => x is long v ? v : throw new InvalidDataException($"tensor {what} holds a non-integer")).ToArray(),
        _ => throw new InvalidDataException($"tensor {what} is not a tuple"),
    };

    private static object? NumpyScalar(object?[] args)
    {
        if (args.Length < 2 || args[0] is not NumpyDType dt || args[1] is not byte[] raw) return new PickleUnsupported("numpy scalar");
        var t = Npy.FromRaw(raw, dt.Code, dt.ByteOrder, []);
        return t.dtype is ScalarType.Float32 or ScalarType.Float64 or ScalarType.Float16 ? t.to_type(ScalarType.Float64).item<double>() : t.to_type(ScalarType.Int64).item<long>();
    }

    private static object? BuildNumpyArray(object?[] st)
    {
        // state = (version, shape, dtype, is_fortran, raw bytes or list)
        if (st.Length < 5 || st[2] is not NumpyDType dt) return new PickleUnsupported("numpy.ndarray");
        var shape = ToLongs(st[1], "shape");
        bool fortran = st[3] is true;
        // Object arrays carry their items as a list: a 0-d one (np.save of a dict) is its single item.
        if (st[4] is List<object?> items && dt.Code.StartsWith('O'))
            return shape.Length == 0 && items.Count == 1 ? items[0] : items;
        if (st[4] is not byte[] raw) return new PickleUnsupported($"numpy.ndarray of dtype {dt.Code}");
        var t = Npy.FromRaw(raw, dt.Code, dt.ByteOrder, fortran ? shape.Reverse().ToArray() : shape);
        return fortran && shape.Length > 1 ? t.permute(Enumerable.Range(0, shape.Length).Reverse().Select(i => (long)i).ToArray()).contiguous() : t;
    }
}
