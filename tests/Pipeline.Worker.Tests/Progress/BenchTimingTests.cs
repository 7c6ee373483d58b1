using Pipeline.Worker.Cli;

namespace Pipeline.Worker.Tests.Progress;

/// <summary>The benches' shared timing loop (it also drives their progress lines through CliProgress).</summary>
public class BenchTimingTests
{
    [Fact]
    public void WarmUpRunsAreUntimedAndTheMedianOfTheTimedRunsIsReturned()
    {
        var pauses = new Queue<int>([0, 0, 30, 1, 60]); // two warm-ups, then timed runs of ~30, ~1 and ~60 ms
        int calls = 0;
        var median = BenchTiming.Median("timing test", () => { calls++; Thread.Sleep(pauses.Dequeue()); }, warmup: 2, repeats: 3);
        Assert.Equal(5, calls);
        Assert.InRange(median.TotalMilliseconds, 25, 59);
    }

    [Fact]
    public void AtLeastOneTimedRunEvenWhenNoneIsAskedFor()
    {
        int calls = 0;
        BenchTiming.Median("timing test", () => calls++, warmup: 0, repeats: 0);
        Assert.Equal(1, calls);
    }
}
