using System.CommandLine;
using System.Reflection;

namespace Pipeline.Worker.Cli;

/// <summary>A `pipeline` subcommand. Implementations need a public parameterless constructor.</summary>
public interface ICliCommand
{
    /// <summary>Builds the System.CommandLine command with its options and action.</summary>
    Command Build();
}

/// <summary>Finds every <see cref="ICliCommand"/> in this assembly, ordered by command name.</summary>
public static class CliCommands
{
    public static IReadOnlyList<ICliCommand> Discover() =>
        typeof(ICliCommand).Assembly.GetTypes()
            .Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(ICliCommand).IsAssignableFrom(t)
                        && t.GetConstructor(Type.EmptyTypes) is not null)
            .Select(t => (ICliCommand)Activator.CreateInstance(t)!)
            .OrderBy(c => c.GetType().Name, StringComparer.Ordinal)
            .ToArray();
}
