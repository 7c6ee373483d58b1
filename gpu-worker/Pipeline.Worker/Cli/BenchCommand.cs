using System.CommandLine;

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
