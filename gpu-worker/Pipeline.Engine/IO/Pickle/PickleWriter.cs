using System.Globalization;
using System.Text;
using static TorchSharp.torch;

namespace Pipeline.Engine.IO.Pickle;

/// <summary>
/// Writes the protocol-2 pickle that torch.save produces for checkpoint trees: OrderedDicts (our
/// OrderedDictionary), dicts, lists, tuples, str, int, float, bool, None and tensors as
/// torch._utils._rebuild_tensor_v2 calls on persistent storages. The caller stores each storage's bytes.
/// </summary>
internal sealed class PickleWriter(Stream output)
{
    private readonly List<Tensor> _storages = [];

    /// <summary>Tensors in storage-key order ("0", "1", ...): each is written as its own contiguous storage.</summary>
    public IReadOnlyList<Tensor> Storages => _storages;

    public void WriteRoot(object? root)
    {
        output.WriteByte(0x80);
        output.WriteByte(2);
        Write(root);
        output.WriteByte((byte)'.');
    }

    private void Write(object? o)
    {
        switch (o)
        {
            case null: output.WriteByte((byte)'N'); break;
            case bool b: output.WriteByte(b ? (byte)0x88 : (byte)0x89); break;
            case int i: WriteInt(i); break;
            case long l: WriteInt(l); break;
            case float f: WriteFloat(f); break;
            case double d: WriteFloat(d); break;
            case string s: WriteString(s); break;
            case Tensor t: WriteTensor(t); break;
            case OrderedDictionary<string, object?> od:
                WriteGlobal("collections", "OrderedDict");
                output.WriteByte((byte)')');
                output.WriteByte((byte)'R');
                WriteItems(od);
                break;
            case IDictionary<string, object?> d:
                output.WriteByte((byte)'}');
                WriteItems(d);
                break;
            case IDictionary<long, object?> intKeyed:
                // torch.optim state_dict()["state"] is keyed by parameter index.
                output.WriteByte((byte)'}');
                if (intKeyed.Count > 0)
                {
                    output.WriteByte((byte)'(');
                    foreach (var (k, v) in intKeyed) { WriteInt(k); Write(v); }
                    output.WriteByte((byte)'u');
                }
                break;
            case object?[] tuple:
                output.WriteByte((byte)'(');
                foreach (var x in tuple) Write(x);
                output.WriteByte((byte)'t');
                break;
            case System.Collections.IList list:
                output.WriteByte((byte)']');
                if (list.Count > 0)
                {
                    output.WriteByte((byte)'(');
                    foreach (var x in list) Write(x);
                    output.WriteByte((byte)'e');
                }
                break;
            default:
                throw new NotSupportedException($"cannot write a {o.GetType().Name} into a checkpoint");
        }
    }

    private void WriteItems(IEnumerable<KeyValuePair<string, object?>> items)
    {
        var any = false;
        foreach (var (k, v) in items)
        {
            if (!any) { output.WriteByte((byte)'('); any = true; }
            WriteString(k);
            Write(v);
        }
        if (any) output.WriteByte((byte)'u');
    }

    private void WriteTensor(Tensor t)
    {
        string storage = t.dtype switch
        {
            ScalarType.Float32 => "FloatStorage",
            ScalarType.Float64 => "DoubleStorage",
            ScalarType.Float16 => "HalfStorage",
            ScalarType.BFloat16 => "BFloat16Storage",
            ScalarType.Int64 => "LongStorage",
            ScalarType.Int32 => "IntStorage",
            ScalarType.Int16 => "ShortStorage",
            ScalarType.Int8 => "CharStorage",
            ScalarType.Byte => "ByteStorage",
            ScalarType.Bool => "BoolStorage",
            _ => throw new NotSupportedException($"dtype {t.dtype} cannot be saved"),
        };
        string key = _storages.Count.ToString(CultureInfo.InvariantCulture);
        _storages.Add(t);
        WriteGlobal("torch._utils", "_rebuild_tensor_v2");
        output.WriteByte((byte)'(');
        // persistent id: ('storage', torch.<Type>Storage, key, 'cpu', numel)
        output.WriteByte((byte)'(');
        WriteString("storage");
        WriteGlobal("torch", storage);
        WriteString(key);
        WriteString("cpu");
        WriteInt(t.numel());
        output.WriteByte((byte)'t');
        output.WriteByte((byte)'Q');
        WriteInt(0);
        Write(t.shape.Select(x => (object?)x).ToArray());
        Write(ContiguousStrides(t.shape).Select(x => (object?)x).ToArray());
        output.WriteByte(0x89);
        WriteGlobal("collections", "OrderedDict");
        output.WriteByte((byte)')');
        output.WriteByte((byte)'R');
        output.WriteByte((byte)'t');
        output.WriteByte((byte)'R');
    }

    private static long[] ContiguousStrides(long[] shape)
    {
        var s = new long[shape.Length];
        long acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--) { s[i] = acc; acc *= Math.Max(shape[i], 1); }
        return s;
    }

    private void WriteGlobal(string module, string name)
    {
        output.WriteByte((byte)'c');
        output.Write(Encoding.ASCII.GetBytes(module + "\n" + name + "\n"));
    }

    private void WriteString(string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        output.WriteByte((byte)'X');
        output.Write(BitConverter.GetBytes(b.Length));
        output.Write(b);
    }

    private void WriteInt(long v)
    {
        if (v is >= 0 and < 256) { output.WriteByte((byte)'K'); output.WriteByte((byte)v); }
        else if (v is >= int.MinValue and <= int.MaxValue) { output.WriteByte((byte)'J'); output.Write(BitConverter.GetBytes((int)v)); }
        else { output.WriteByte(0x8a); output.WriteByte(8); output.Write(BitConverter.GetBytes(v)); }
    }

    private void WriteFloat(double d)
    {
        output.WriteByte((byte)'G');
        var b = BitConverter.GetBytes(d);
        Array.Reverse(b); // BINFLOAT is big-endian
        output.Write(b);
    }
}
