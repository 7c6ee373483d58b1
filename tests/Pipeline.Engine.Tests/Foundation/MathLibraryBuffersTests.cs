using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Foundation;

/// <summary>MKL's per-thread matrix buffers are freed when the last piece of work ends, and not before.</summary>
[Collection(ProcessWideStateCollection.Name)] // MKL's memory manager is process-wide
public sealed class MathLibraryBuffersTests
{
    /// <summary>Matrix products (as convolutions and linear layers run them), so MKL builds its buffer pools.</summary>
    private static void Multiply()
    {
        using var scope = NewDisposeScope();
        var a = randn(384, 384);
        _ = a.matmul(a).sum().item<float>();
        var x = randn(2, 16, 32, 32);
        _ = nn.functional.conv2d(x, randn(32, 16, 3, 3)).sum().item<float>();
        _ = nn.functional.linear(randn(64, 512), randn(256, 512)).sum().item<float>();
    }

    [Fact]
    public void LastWorkToEndFreesTheBuffersOthersKeepThem()
    {
        Requirement.SkipUnless(MathLibraryBuffers.Available, "this libtorch exports no MKL memory manager (mkl_serv_free_buffers)");
        var first = MathLibraryBuffers.EnterWork();
        var second = MathLibraryBuffers.EnterWork();
        Multiply();
        long held = MathLibraryBuffers.HeldBytes()!.Value;
        Assert.True(held > 100_000, $"MKL should hold buffers after matrix products, holds {held} bytes");

        first.Dispose();
        Assert.Equal(held, MathLibraryBuffers.HeldBytes()); // the second piece of work is still running
        first.Dispose(); // a second dispose does not count twice
        Assert.Equal(held, MathLibraryBuffers.HeldBytes());

        second.Dispose();
        Assert.Equal(0, MathLibraryBuffers.HeldBytes());
    }
}
