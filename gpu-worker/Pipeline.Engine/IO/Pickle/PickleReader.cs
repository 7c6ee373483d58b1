using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace Pipeline.Engine.IO.Pickle;

/// <summary>
/// A restricted pickle virtual machine (protocols 0-5). It never imports or executes anything: GLOBAL opcodes
/// resolve to <see cref="PyGlobal"/> names, and calls (REDUCE/NEWOBJ/BUILD) are interpreted by
/// <see cref="PickleObjects"/> for the few classes checkpoints use. Unknown classes become
/// <see cref="PickleUnsupported"/> placeholders; globals from dangerous modules are refused.
/// </summary>
internal sealed class PickleReader
{
    private readonly byte[] _data;
    private int _pos;
    private readonly int _end;
    private readonly Func<object?, object?>? _persistentLoad;
    private readonly List<object?> _stack = new(64);
    private readonly List<int> _marks = new(16);
    private readonly Dictionary<long, object?> _memo = [];

    public PickleReader(byte[] data, int offset, int length, Func<object?, object?>? persistentLoad)
    {
        _data = data;
        _pos = offset;
        _end = checked(offset + length);
        if (_end > data.Length) throw new InvalidDataException("pickle extends past the end of the data");
        _persistentLoad = persistentLoad;
    }

    /// <summary>Offset just past the STOP opcode of the last pickle read (the legacy format chains pickles).</summary>
    public int Position => _pos;

    public object? Load()
    {
        _stack.Clear();
        _marks.Clear();
        _memo.Clear();
        while (true)
        {
            byte op = ReadByte();
            switch (op)
            {
                case 0x80: ReadByte(); break;                         // PROTO
                case 0x95: ReadBytes(8); break;                       // FRAME (length is advisory)
                case (byte)'.': return Pop();                         // STOP
                case (byte)'(': _marks.Add(_stack.Count); break;      // MARK
                case (byte)'}': Push(new OrderedDictionary<string, object?>()); break;
                case (byte)']': Push(new List<object?>()); break;
                case (byte)')': Push(Array.Empty<object?>()); break;
                case (byte)'t': Push(PopMark().ToArray()); break;
                case 0x85: Push(new[] { Pop() }); break;
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; }
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; }
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break;
                case 0x89: Push(false); break;
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;
                case (byte)'K': Push((long)ReadByte()); break;
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break;
                case 0x8a: Push(ReadLong(ReadByte())); break;
                case 0x8b: Push(ReadLong(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))))); break;
                case (byte)'I': Push(ParseTextInt(ReadLine())); break;
                case (byte)'L': Push(ParseTextInt(ReadLine().TrimEnd('L'))); break;
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break;
                case (byte)'F': Push(double.TryParse(ReadLine(), NumberStyles.Float, CultureInfo.InvariantCulture, out var f) ? f : Fail<double>("invalid float literal in pickle")); break;
                case 0x8c: Push(Utf8(ReadBytes(ReadByte()))); break;
                case (byte)'X': Push(Utf8(ReadBytes(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))))); break;
                case 0x8d: Push(Utf8(ReadBytes(ReadLength(BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8)))))); break;
                case (byte)'V': Push(ReadLine()); break;
                case (byte)'S': Push(ReadLine().Trim('\'', '"')); break;
                case (byte)'T': Push(Latin1(ReadBytes(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))))); break;
                case (byte)'U': Push(Latin1(ReadBytes(ReadByte()))); break;
                case (byte)'B': Push(ReadBytes(ReadLength(BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4)))).ToArray()); break;
                case (byte)'C': Push(ReadBytes(ReadByte()).ToArray()); break;
                case 0x8e: Push(ReadBytes(ReadLength(BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8)))).ToArray()); break;
                case 0x96: Push(ReadBytes(ReadLength(BinaryPrimitives.ReadInt64LittleEndian(ReadBytes(8)))).ToArray()); break;
                case (byte)'q': _memo[ReadByte()] = Peek(); break;
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))] = Peek(); break;
                case (byte)'p': _memo[ParseMemoKey(ReadLine())] = Peek(); break;
                case 0x94: _memo[_memo.Count] = Peek(); break;
                case (byte)'h': Push(GetMemo(ReadByte())); break;
                case (byte)'j': Push(GetMemo(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break;
                case (byte)'g': Push(GetMemo(ParseMemoKey(ReadLine()))); break;
                case (byte)'c': { var module = ReadLine(); var name = ReadLine(); Push(PickleObjects.Global(module, name)); break; }
                case 0x93: { var name = Pop() as string; var module = Pop() as string; Push(PickleObjects.Global(module ?? Fail<string>("STACK_GLOBAL module is not a string"), name ?? Fail<string>("STACK_GLOBAL name is not a string"))); break; }
                case (byte)'R': { var args = Pop(); var fn = Pop(); Push(PickleObjects.Call(fn, AsArgs(args))); break; }
                case 0x81: { var args = Pop(); var cls = Pop(); Push(PickleObjects.Call(cls, AsArgs(args))); break; }
                case 0x92: { Pop(); var args = Pop(); var cls = Pop(); Push(PickleObjects.Call(cls, AsArgs(args))); break; }
                case (byte)'o': { var items = PopMark(); if (items.Count == 0) Fail<object>("OBJ without a class"); Push(PickleObjects.Call(items[0], items.Skip(1).ToArray())); break; }
                case (byte)'i': { var module = ReadLine(); var name = ReadLine(); var items = PopMark(); Push(PickleObjects.Call(PickleObjects.Global(module, name), items.ToArray())); break; }
                case (byte)'b': { var state = Pop(); var obj = Pop(); Push(PickleObjects.Build(obj, state)); break; }
                case (byte)'s': { var v = Pop(); var k = Pop(); SetItem(Peek(), k, v); break; }
                case (byte)'u': { var items = PopMark(); var d = Peek(); for (int i = 0; i + 1 < items.Count; i += 2) SetItem(d, items[i], items[i + 1]); break; }
                case (byte)'a': { var v = Pop(); Append(Peek(), v); break; }
                case (byte)'e': { var items = PopMark(); var l = Peek(); foreach (var v in items) Append(l, v); break; }
                case 0x8f: Push(new List<object?>()); break;                      // EMPTY_SET, kept as a list
                case 0x90: { var items = PopMark(); var s = Peek(); foreach (var v in items) Append(s, v); break; }
                case 0x91: Push(PopMark().ToList()); break;                       // FROZENSET
                case (byte)'Q': { var pid = Pop(); Push(PersistentLoad(pid)); break; }
                case (byte)'P': Push(PersistentLoad(ReadLine())); break;
                case (byte)'0': Pop(); break;
                case (byte)'1': PopMark(); break;
                case (byte)'2': Push(Peek()); break;
                case 0x97: case 0x98: Fail<object>("out-of-band pickle buffers are not supported"); break;
                default: Fail<object>($"unsupported pickle opcode 0x{op:x2} at offset {_pos - 1}"); break;
            }
        }
    }

    private object? PersistentLoad(object? pid) =>
        _persistentLoad is null ? Fail<object>("pickle uses persistent ids but no storage source is available") : _persistentLoad(pid);

    private static object?[] AsArgs(object? args) => args switch
    {
        object?[] a => a,
        List<object?> l => l.ToArray(),
        _ => Fail<object?[]>("call arguments are not a tuple"),
    };

    private static void SetItem(object? target, object? key, object? value)
    {
        switch (target)
        {
            case OrderedDictionary<string, object?> d: d[PickleObjects.KeyString(key)] = value; break;
            case PickleUnsupported: break;
            default: Fail<object>($"SETITEM on {target?.GetType().Name ?? "None"}"); break;
        }
    }

    private static void Append(object? target, object? value)
    {
        switch (target)
        {
            case List<object?> l: l.Add(value); break;
            case PickleUnsupported: break;
            default: Fail<object>($"APPEND on {target?.GetType().Name ?? "None"}"); break;
        }
    }

    private object? GetMemo(long key) => _memo.TryGetValue(key, out var v) ? v : Fail<object>($"pickle memo key {key} is not defined");

    private void Push(object? o) => _stack.Add(o);

    private object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks[^1] : 0;
        if (_stack.Count <= floor) Fail<object>("pickle stack underflow");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : Fail<object>("pickle stack is empty");

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) Fail<object>("pickle MARK expected");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private byte ReadByte() => _pos < _end ? _data[_pos++] : Fail<byte>("unexpected end of pickle data (file truncated?)");

    private ReadOnlySpan<byte> ReadBytes(int n)
    {
        if (n < 0 || n > _end - _pos) Fail<object>("unexpected end of pickle data (file truncated?)");
        var s = _data.AsSpan(_pos, n);
        _pos += n;
        return s;
    }

    private int ReadLength(long n) => n < 0 || n > _end - _pos ? Fail<int>($"pickle length {n} exceeds the remaining data") : (int)n;

    private string ReadLine()
    {
        int start = _pos;
        int nl = Array.IndexOf(_data, (byte)'\n', _pos, _end - _pos);
        if (nl < 0) Fail<object>("unexpected end of pickle data in a text opcode");
        _pos = nl + 1;
        return Encoding.UTF8.GetString(_data, start, nl - start);
    }

    private static object ReadLong(ReadOnlySpan<byte> le)
    {
        if (le.Length == 0) return 0L;
        var big = new BigInteger(le, isUnsigned: false, isBigEndian: false);
        return big >= long.MinValue && big <= long.MaxValue ? (object)(long)big : big;
    }

    private object ReadLong(int n) => ReadLong(ReadBytes(n));

    private static object ParseTextInt(string s) => s switch
    {
        "00" => false,
        "01" => true,
        _ => BigInteger.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var b)
            ? (b >= long.MinValue && b <= long.MaxValue ? (object)(long)b : b)
            : Fail<object>($"invalid integer literal in pickle: '{s}'"),
    };

    private static long ParseMemoKey(string s) =>
        long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var k) ? k : Fail<long>($"invalid memo key in pickle: '{s}'");

    private static string Utf8(ReadOnlySpan<byte> b) => Encoding.UTF8.GetString(b);

    private static string Latin1(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    internal static T Fail<T>(string message) => throw new InvalidDataException(message);
}
