using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.IO;

/// <summary>Maps between the dtype spellings of file formats (PyTorch storages, safetensors, numpy) and TorchSharp.</summary>
public static class DTypes
{
    public static int ElementSize(ScalarType t) => t switch
    {
        ScalarType.Bool or ScalarType.Byte or ScalarType.Int8 => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 or ScalarType.ComplexFloat32 => 8,
        ScalarType.ComplexFloat64 => 16,
        _ => throw new NotSupportedException($"dtype {t} is not supported"),
    };

    /// <summary>PyTorch storage class names (torch.FloatStorage, ...) and the v2 untyped storage dtype names.</summary>
    public static ScalarType FromTorchStorage(string name) => name switch
    {
        "FloatStorage" or "float32" or "float" => ScalarType.Float32,
        "DoubleStorage" or "float64" or "double" => ScalarType.Float64,
        "HalfStorage" or "float16" or "half" => ScalarType.Float16,
        "BFloat16Storage" or "bfloat16" => ScalarType.BFloat16,
        "LongStorage" or "int64" or "long" => ScalarType.Int64,
        "IntStorage" or "int32" or "int" => ScalarType.Int32,
        "ShortStorage" or "int16" or "short" => ScalarType.Int16,
        "CharStorage" or "int8" => ScalarType.Int8,
        "ByteStorage" or "uint8" => ScalarType.Byte,
        "BoolStorage" or "bool" => ScalarType.Bool,
        "ComplexFloatStorage" or "complex64" => ScalarType.ComplexFloat32,
        "ComplexDoubleStorage" or "complex128" => ScalarType.ComplexFloat64,
        _ => throw new InvalidDataException($"unknown PyTorch storage type '{name}'"),
    };

    public static ScalarType FromSafetensors(string name) => name switch
    {
        "F32" => ScalarType.Float32,
        "F64" => ScalarType.Float64,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new InvalidDataException($"unsupported safetensors dtype '{name}'"),
    };

    public static string ToSafetensors(ScalarType t) => t switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float64 => "F64",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"dtype {t} cannot be written to safetensors"),
    };

    /// <summary>Builds a CPU tensor of <paramref name="dtype"/> and <paramref name="shape"/> from raw little-endian bytes (copied).</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, ScalarType dtype, long[] shape)
    {
        long numel = 1;
        foreach (var d in shape) numel = checked(numel * d);
        long need = checked(numel * ElementSize(dtype));
        if (bytes.Length < need)
            throw new InvalidDataException($"tensor data is truncated: need {need} bytes for shape [{string.Join(", ", shape)}] {dtype}, have {bytes.Length}");
        var t = empty(shape, dtype, CPU);
        if (need > 0)
        {
            var dst = t.bytes;
            bytes[..(int)need].CopyTo(dst);
            t.bytes = dst;
        }
        return t;
    }

    /// <summary>The raw little-endian bytes of a tensor (made contiguous and moved to CPU first).</summary>
    public static byte[] ToBytes(Tensor t)
    {
        using var c = t.detach().cpu().contiguous();
        return c.bytes.ToArray();
    }
}
