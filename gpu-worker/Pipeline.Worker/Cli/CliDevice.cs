using System.CommandLine;
using Pipeline.Engine;

namespace Pipeline.Worker.Cli;

/// <summary>The <c>--device</c> option of every command; <see cref="Devices.Parse"/> reads it.</summary>
internal static class CliDevice
{
    // "auto" as the default (not a value computed when the option is built) keeps --help truthful on any machine.
    public static Option<string> Option() => new("--device")
    {
        Description = $"Device: {Devices.Names}",
        DefaultValueFactory = _ => "auto",
    };
}
