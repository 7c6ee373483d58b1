using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Foundation;

/// <summary>Proves the native TorchSharp library loads on this machine (the GLIBCXX patch) and computes.</summary>
public class TorchSharpLoadsTests
{
    [Fact]
    public void MatmulAndAutogradRunOnCpu()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, [2, 2]).requires_grad_(true);
        var b = tensor(new float[] { 5, 6, 7, 8 }, [2, 2]);
        var c = a.matmul(b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
        c.sum().backward();
        // d(sum(A@B))/dA = ones @ B^T: each row is the row sums of B.
        Assert.Equal(new float[] { 11, 15, 11, 15 }, a.grad!.data<float>().ToArray());
    }

    [Fact]
    public void NativeLibraryInOutputIsMarkedWeakWhenSystemLacksGlibcxx332()
    {
        var lib = Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories).FirstOrDefault();
        Assert.NotNull(lib);
        var system = File.ReadAllBytes("/usr/lib/x86_64-linux-gnu/libstdc++.so.6");
        bool systemHas = System.Text.Encoding.ASCII.GetString(system).Contains("GLIBCXX_3.4.32\0", StringComparison.Ordinal);
        // On a copy: the build patched the output only where the system lacks the version; patching again is a no-op.
        var copy = Path.Combine(Directory.CreateTempSubdirectory("elf-").FullName, "libLibTorchSharp.so");
        File.Copy(lib!, copy);
        try
        {
            Assert.Equal(systemHas ? "marked GLIBCXX_3.4.32 weak" : "already weak", Pipeline.Build.ElfVersionNeed.MarkWeak(copy, "GLIBCXX_3.4.32"));
            Assert.Equal("already weak", Pipeline.Build.ElfVersionNeed.MarkWeak(copy, "GLIBCXX_3.4.32"));
            Assert.Equal("no need for GLIBCXX_9.9.99", Pipeline.Build.ElfVersionNeed.MarkWeak(copy, "GLIBCXX_9.9.99"));
        }
        finally { Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true); }
    }
}
