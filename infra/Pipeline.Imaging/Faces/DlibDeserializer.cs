namespace Pipeline.Imaging.Faces;

/// <summary>
/// dlib's serialization primitives (serialize.h): variable-length little-endian integers with a control byte, and floats
/// as (int64 mantissa, int16 exponent) pairs. Parses an in-memory copy of the file (the 100 MB model parses about 3×
/// faster than through a stream) with a bound check on every length.
/// </summary>
internal sealed class DlibDeserializer(byte[] data, string source)
{
    private readonly byte[] _d = data;
    private int _pos;

    public string Source { get; } = source;

    public int Position => _pos;

    public int Length => _d.Length;

    private (ulong Magnitude, bool Negative) ReadRaw()
    {
        if (_pos >= _d.Length) throw Error("unexpected end of file");
        byte control = _d[_pos++];
        int n = control & 0x0F;
        if ((control & 0x70) != 0 || n == 0 || n > 8) throw Error($"bad integer control byte 0x{control:X2}");
        if (_pos + n > _d.Length) throw Error("unexpected end of file");
        ulong v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | _d[_pos + i];
        _pos += n;
        return (v, (control & 0x80) != 0);
    }

    public long ReadInt64()
    {
        var (m, neg) = ReadRaw();
        if (m > long.MaxValue) throw Error("integer overflow");
        return neg ? -(long)m : (long)m;
    }

    public int ReadInt32()
    {
        long v = ReadInt64();
        if (v is < int.MinValue or > int.MaxValue) throw Error($"integer {v} does not fit 32 bits");
        return (int)v;
    }

    public ulong ReadUInt64()
    {
        var (m, neg) = ReadRaw();
        if (neg) throw Error("negative value for an unsigned integer");
        return m;
    }

    /// <summary>A count or index bounded by <paramref name="max"/> (guards against absurd allocations from a damaged file).</summary>
    public int ReadCount(int max)
    {
        ulong v = ReadUInt64();
        if (v > (ulong)max) throw Error($"count {v} exceeds {max}");
        return (int)v;
    }

    public float ReadFloat()
    {
        // Binary float encoding: the first byte of a binary number has bits 0x70 clear (old text encodings do not).
        long mantissa = ReadInt64();
        long exponent = ReadInt64();
        return exponent switch
        {
            32000 => float.PositiveInfinity,
            32001 => float.NegativeInfinity,
            32002 => float.NaN,
            _ when exponent is < short.MinValue or > short.MaxValue => throw Error($"float exponent {exponent} out of range"),
            _ => (float)Math.ScaleB(mantissa, (int)exponent),
        };
    }

    /// <summary>dlib::matrix&lt;float,0,1&gt;: rows, cols (negated in current files), then the values.</summary>
    public float[] ReadColumnVector(int maxLength)
    {
        long rows = Math.Abs(ReadInt64()), cols = Math.Abs(ReadInt64());
        if (cols != 1 && rows != 0) throw Error($"expected a column vector, got {rows}x{cols}");
        if (rows > maxLength) throw Error($"vector of {rows} exceeds {maxLength}");
        var v = new float[rows];
        for (int i = 0; i < v.Length; i++) v[i] = ReadFloat();
        return v;
    }

    public InvalidDataException Error(string what) =>
        new($"{Source}: not a valid dlib shape predictor ({what} at byte {_pos}).");
}
