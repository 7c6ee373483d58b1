using Pipeline.Worker.Cli;

namespace Pipeline.Worker.Tests.Progress;

/// <summary>Progress when output is not a terminal: plain lines, throttled, with the same fields as the bars.</summary>
public class CliProgressTests
{
    [Fact]
    public void PlainLinesAreThrottledButTheFirstAndTheLastAlwaysShow()
    {
        var output = new StringWriter();
        var task = CliTask.Plain("projecting a.png", 1000, output, TimeSpan.FromHours(1));
        for (int i = 1; i <= 1000; i++) task.Set(i, $"loss {1.0 / i:G3}");
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("projecting a.png: 1/1000 (0%) loss 1, elapsed ", lines[0], StringComparison.Ordinal);
        Assert.Contains(", eta ", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("projecting a.png: 1000/1000 (100%) loss 0.001, elapsed ", lines[1], StringComparison.Ordinal);
        Assert.DoesNotContain("eta", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void EveryUpdatePrintsWithoutThrottleAndTheDetailIsKeptUntilReplaced()
    {
        var output = new StringWriter();
        var task = CliTask.Plain("training", 4, output, TimeSpan.Zero);
        task.Set(1, "d 0.5");
        task.Increment();
        task.Increment(5, "d 0.25"); // past the total: clamped, printed once as finished
        task.Increment();
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.StartsWith("training: 2/4 (50%) d 0.5, elapsed ", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("training: 4/4 (100%) d 0.25, elapsed ", lines[2], StringComparison.Ordinal);
        Assert.Equal(4, task.Value);
    }

    [Fact]
    public void AResumedTaskCountsTheWholeRunButEstimatesFromItsOwnSteps()
    {
        var output = new StringWriter();
        var task = CliTask.Plain("training encoder", 1000, output, TimeSpan.Zero);
        task.ResumeFrom(900);
        Assert.Equal(string.Empty, output.ToString()); // resuming is not progress: no line yet
        Thread.Sleep(100);
        task.Set(901);
        var line = output.ToString().Trim();
        Assert.StartsWith("training encoder: 901/1000 (90%), elapsed ", line, StringComparison.Ordinal);
        // One step took >= 0.1 s, so 99 more take >= 9.9 s. Rating from 901 steps would say 0.011 s ("00:00").
        var eta = TimeSpan.ParseExact(line[(line.LastIndexOf("eta ", StringComparison.Ordinal) + 4)..], @"mm\:ss", System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(eta >= TimeSpan.FromSeconds(9), line);
    }
}
