using System.Runtime.InteropServices;

namespace Pipeline.Engine;

/// <summary>
/// The buffers that MKL, linked into libtorch_cpu, keeps for its CPU matrix products. Its memory manager gives every
/// thread that runs one (each .NET thread that calls torch, and the OpenMP workers each of those starts) a pool of
/// about 1-2 MiB that it keeps until the thread ends, so a long-running process holds one for every thread its work
/// has landed on: the worker soak saw MKL holding 6.5 MiB at job 50 and 8.5 MiB at job 200, in 1.3 MiB steps.
/// <see cref="Release"/> frees the unused ones (mkl_free_buffers); <see cref="EnterWork"/> does it each time the last
/// piece of work that entered ends. Where libtorch has no MKL (other builds, other CPUs), nothing happens.
/// </summary>
public static class MathLibraryBuffers
{
    private static readonly object Gate = new();
    private static int _working;

    /// <summary>
    /// Marks work that may call MKL until the result is disposed; when no such work is left, the unused buffers are
    /// freed. Work that starts meanwhile waits for that (microseconds), so no buffer is freed under a running call
    /// of work that entered here.
    /// </summary>
    public static IDisposable EnterWork()
    {
        lock (Gate) _working++;
        return new Work();
    }

    private sealed class Work : IDisposable
    {
        private int _left;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _left, 1) != 0) return;
            lock (Gate)
            {
                if (--_working == 0) Release();
            }
        }
    }

    // mkl_free_buffers / mkl_mem_stat under the service-layer names libtorch_cpu exports (MKL is linked in statically).
    private static readonly Lazy<(IntPtr Free, IntPtr Stat)> Exports = new(Resolve);

    /// <summary>Whether this libtorch exposes MKL's memory manager.</summary>
    public static bool Available => Exports.Value.Free != IntPtr.Zero;

    /// <summary>Frees the buffers no MKL call is using now. Returns false where there is no MKL.</summary>
    public static unsafe bool Release()
    {
        var free = Exports.Value.Free;
        if (free == IntPtr.Zero) return false;
        ((delegate* unmanaged<void>)free)();
        return true;
    }

    /// <summary>Bytes MKL's memory manager holds now (in use or kept for reuse), or null where there is no MKL.</summary>
    public static unsafe long? HeldBytes()
    {
        var stat = Exports.Value.Stat;
        if (stat == IntPtr.Zero) return null;
        int buffers;
        return ((delegate* unmanaged<int*, long>)stat)(&buffers);
    }

    private static (IntPtr, IntPtr) Resolve()
    {
        // TorchSharp has loaded libtorch_cpu by the time a model exists; loading it by name returns that same library.
        TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
        foreach (var name in new[] { "libtorch_cpu.so", "torch_cpu.dll", "libtorch_cpu.dylib" })
        {
            if (!NativeLibrary.TryLoad(name, typeof(MathLibraryBuffers).Assembly, null, out var lib)) continue;
            if (NativeLibrary.TryGetExport(lib, "mkl_serv_free_buffers", out var free))
                return (free, NativeLibrary.TryGetExport(lib, "mkl_serv_mem_stat", out var stat) ? stat : IntPtr.Zero);
        }
        return (IntPtr.Zero, IntPtr.Zero);
    }
}
