using System.CommandLine;
using System.Diagnostics;
using System.Globalization;

namespace Pipeline.Worker.Cli;

/// <summary>A `pipeline bench &lt;noun&gt;` target. Implementations need a public parameterless constructor.</summary>
public interface IBenchTarget
{
    /// <summary>The sub-command, e.g. `generate`; it prints throughput and ratios against a baseline measured in the same run.</summary>
    Command Build();
}

/// <summary>`pipeline bench ...`: groups every <see cref="IBenchTarget"/> of this assembly.</summary>
public sealed class BenchCommand : ICliCommand
{
    public Command Build()
    {
        var bench = new Command("bench", "Measure throughput (warm-up, median of repeats) on CPU or CUDA.");
        foreach (var t in typeof(IBenchTarget).Assembly.GetTypes()
                     .Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(IBenchTarget).IsAssignableFrom(t))
                     .OrderBy(t => t.Name, StringComparer.Ordinal))
            bench.Subcommands.Add(((IBenchTarget)Activator.CreateInstance(t)!).Build());
        return bench;
    }
}

/// <summary>
/// The benches' one timing loop: untimed warm-up runs, then timed runs, the median reported. Every run advances a
/// <see cref="CliProgress"/> task (a bar on a terminal, a plain line every few seconds in a log), so a slow bench on a
/// CPU is never silent for minutes and its log shows how far it got.
/// </summary>
internal static class BenchTiming
{
    /// <summary>Median wall time of <paramref name="run"/> over <paramref name="repeats"/> runs (at least one) after <paramref name="warmup"/>.</summary>
    public static TimeSpan Median(string name, Action run, int warmup, int repeats)
    {
        var times = new TimeSpan[Math.Max(1, repeats)];
        warmup = Math.Max(0, warmup);
        CliProgress.Run(name, warmup + times.Length, task =>
        {
            for (int i = 0; i < warmup; i++)
            {
                run();
                task.Increment(1, "warm-up");
            }
            for (int i = 0; i < times.Length; i++)
            {
                var sw = Stopwatch.StartNew();
                run();
                times[i] = sw.Elapsed;
                task.Increment(1, string.Create(CultureInfo.InvariantCulture, $"last {times[i].TotalMilliseconds:F1} ms"));
            }
        });
        Array.Sort(times);
        return times[times.Length / 2];
    }
}
