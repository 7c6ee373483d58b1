using System.Runtime.InteropServices;

namespace Pipeline.Tests;

/// <summary>glibc malloc's own figures, for tests that look for native memory a piece of code leaves behind.</summary>
internal static class GlibcHeap
{
    [StructLayout(LayoutKind.Sequential)]
    private struct MallInfo2 { public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost; }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 MallInfo2Native();

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    /// <summary>Bytes in use (arenas' used chunks and mmapped ones) and free bytes the arenas keep, or null without glibc 2.33+.</summary>
    public static (long InUse, long Free)? Info()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var m = MallInfo2Native();
            return ((long)m.uordblks + (long)m.hblkhd, (long)m.fordblks);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null; // musl, or glibc before 2.33
        }
    }

    /// <summary>Hands glibc's free pages back to the system (its arenas keep freed chunks resident otherwise).</summary>
    public static void Trim()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // not glibc (musl has no malloc_trim): RSS is measured as it is
        }
    }
}
