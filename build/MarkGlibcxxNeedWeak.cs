// MSBuild inline task: sets VER_FLG_WEAK on one version need of an ELF64 little-endian shared object.
// Kept free of dependencies because RoslynCodeTaskFactory compiles it at build time.
using System;
using System.IO;
using System.Text;
#if !ELF_ONLY
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class MarkGlibcxxNeedWeak : Task
{
    [Required] public ITaskItem[] Files { get; set; }
    [Required] public string Version { get; set; }

    public override bool Execute()
    {
        if (SystemLibstdcxxHas(Version))
        {
            Log.LogMessage(MessageImportance.Low, "System libstdc++ provides " + Version + "; no patch needed.");
            return true;
        }
        foreach (var item in Files)
        {
            string path = item.GetMetadata("FullPath");
            try
            {
                string result = Pipeline.Build.ElfVersionNeed.MarkWeak(path, Version);
                Log.LogMessage(MessageImportance.Normal, path + ": " + result);
            }
            catch (Exception e)
            {
                Log.LogError("Could not mark " + Version + " weak in " + path + ": " + e.Message);
            }
        }
        return !Log.HasLoggedErrors;
    }

    static bool SystemLibstdcxxHas(string version)
    {
        string[] candidates = { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6" };
        foreach (var c in candidates)
        {
            if (!File.Exists(c)) continue;
            byte[] data = File.ReadAllBytes(c);
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            return IndexOf(data, needle) >= 0;
        }
        return false; // unknown system: patching is harmless
    }

    static int IndexOf(byte[] hay, byte[] needle)
    {
        for (int i = 0; i + needle.Length <= hay.Length; i++)
        {
            int j = 0;
            while (j < needle.Length && hay[i + j] == needle[j]) j++;
            if (j == needle.Length) return i;
        }
        return -1;
    }

}
#endif

namespace Pipeline.Build
{
    // The one ELF reader of the repository: the build patches with it and the tests (compiled with ELF_ONLY, so without
    // MSBuild) check the built library with it.
    public static class ElfVersionNeed
    {
        const uint ShtGnuVerneed = 0x6ffffffe;
        const ushort VerFlgWeak = 0x2;

        // Sets VER_FLG_WEAK on the need for `version`; returns what was done; throws on a file that is not what we expect.
        public static string MarkWeak(string path, string version)
        {
            byte[] b = File.ReadAllBytes(path);
            if (b.Length < 64 || b[0] != 0x7f || b[1] != (byte)'E' || b[2] != (byte)'L' || b[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (b[4] != 2 || b[5] != 1) throw new InvalidDataException("only ELF64 little-endian is supported");
            ulong shoff = BitConverter.ToUInt64(b, 0x28);
            int shentsize = BitConverter.ToUInt16(b, 0x3A);
            int shnum = BitConverter.ToUInt16(b, 0x3C);
            for (int i = 0; i < shnum; i++)
            {
                int sh = checked((int)shoff + i * shentsize);
                uint type = BitConverter.ToUInt32(b, sh + 4);
                if (type != ShtGnuVerneed) continue;
                int off = checked((int)BitConverter.ToUInt64(b, sh + 0x18));
                int link = (int)BitConverter.ToUInt32(b, sh + 0x28);
                int strSh = checked((int)shoff + link * shentsize);
                int strOff = checked((int)BitConverter.ToUInt64(b, strSh + 0x18));
                int vn = off;
                while (true)
                {
                    ushort cnt = BitConverter.ToUInt16(b, vn + 2);
                    uint aux = BitConverter.ToUInt32(b, vn + 8);
                    uint next = BitConverter.ToUInt32(b, vn + 12);
                    int va = vn + (int)aux;
                    for (int k = 0; k < cnt; k++)
                    {
                        uint name = BitConverter.ToUInt32(b, va + 8);
                        if (ReadCString(b, strOff + (int)name) == version)
                        {
                            ushort flags = BitConverter.ToUInt16(b, va + 4);
                            if ((flags & VerFlgWeak) != 0) return "already weak";
                            flags |= VerFlgWeak;
                            byte[] f = BitConverter.GetBytes(flags);
                            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Write))
                            {
                                fs.Position = va + 4;
                                fs.Write(f, 0, 2);
                            }
                            return "marked " + version + " weak";
                        }
                        uint vnaNext = BitConverter.ToUInt32(b, va + 12);
                        if (vnaNext == 0) break;
                        va += (int)vnaNext;
                    }
                    if (next == 0) break;
                    vn += (int)next;
                }
                return "no need for " + version;
            }
            return "no .gnu.version_r section";
        }

        static string ReadCString(byte[] b, int at)
        {
            int end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, at, end - at);
        }
    }
}
