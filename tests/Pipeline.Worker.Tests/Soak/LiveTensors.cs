using System.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.Soak;

/// <summary>Tests that read the process-wide tensor count run alone: another test's tensors would move it.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TensorCountCollection
{
    public const string Name = "process-wide tensor counts";
}

/// <summary>Counts of live tensors from TorchSharp's own bookkeeping.</summary>
internal static class LiveTensors
{
    /// <summary>Tensors of the whole process that are neither disposed nor finalized (torch.Tensor.TotalCount).</summary>
    public static long Count => Tensor.TotalCount;

    /// <summary>
    /// Tensors that <paramref name="body"/> created on this thread and did not dispose (DisposeScopeManager.Statistics).
    /// A tensor left to the garbage collector counts even after it is finalized, so a leak cannot pass by luck.
    /// </summary>
    public static long Added(Action body)
    {
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        body();
        return DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
    }

    /// <summary>
    /// For work that hops threads: the change of <see cref="Count"/> across <paramref name="body"/>, with earlier garbage
    /// collected first and the collector held off where the runtime allows (so what the body leaves to it still counts).
    /// </summary>
    public static async Task<long> AddedAsync(Func<Task> body)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers(); // earlier garbage's finalizers would otherwise lower the count during the body
        long before = Count;
        bool held = false;
        try { held = GC.TryStartNoGCRegion(64L << 20); }
        catch (InvalidOperationException) { } // already in a no-GC region
        try
        {
            await body();
            return Count - before;
        }
        finally
        {
            // The region ends by itself once its allowance is used up; then there is nothing to end.
            if (held && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion) GC.EndNoGCRegion();
        }
    }
}
