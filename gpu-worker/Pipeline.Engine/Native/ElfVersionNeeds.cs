using System.Buffers.Binary;
using System.Text;

namespace Pipeline.Engine.Native;

/// <summary>
/// Reads the version needs (.gnu.version_r) of an ELF64 shared object. Used to diagnose why a native
/// TorchSharp library will not load (the build marks GLIBCXX_3.4.32 weak; see build/GlibcxxWeak.targets).
/// </summary>
public static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;

    /// <summary>True when <paramref name="version"/> is needed and flagged VER_FLG_WEAK; false when needed and hard.</summary>
    /// <exception cref="InvalidDataException">Not an ELF64 LE file, or the version is not needed at all.</exception>
    public static bool IsWeak(string path, string version)
    {
        foreach (var (name, flags) in Read(path))
            if (name == version) return (flags & 0x2) != 0;
        throw new InvalidDataException($"{path} does not need {version}");
    }

    /// <summary>All (version name, vna_flags) pairs of the file's version needs.</summary>
    public static IReadOnlyList<(string Name, ushort Flags)> Read(string path)
    {
        var b = File.ReadAllBytes(path);
        if (b.Length < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' || b[4] != 2 || b[5] != 1)
            throw new InvalidDataException($"{path} is not an ELF64 little-endian file");
        var span = b.AsSpan();
        int shoff = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        var result = new List<(string, ushort)>();
        for (int i = 0; i < shnum; i++)
        {
            var sh = span[(shoff + i * shentsize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            int off = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]));
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            int strOff = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(span[(shoff + link * shentsize + 0x18)..]));
            for (int vn = off; ;)
            {
                int cnt = BinaryPrimitives.ReadUInt16LittleEndian(span[(vn + 2)..]);
                int va = vn + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(vn + 8)..]);
                for (int k = 0; k < cnt; k++)
                {
                    ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(span[(va + 4)..]);
                    int nameOff = strOff + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(va + 8)..]);
                    int end = Array.IndexOf(b, (byte)0, nameOff);
                    result.Add((Encoding.ASCII.GetString(b, nameOff, end - nameOff), flags));
                    int next = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(va + 12)..]);
                    if (next == 0) break;
                    va += next;
                }
                int vnNext = (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(vn + 12)..]);
                if (vnNext == 0) break;
                vn += vnNext;
            }
        }
        return result;
    }
}
