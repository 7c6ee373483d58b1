using Spectre.Console;

namespace Pipeline.Worker.Cli;

/// <summary>How the CLI's Spectre console behaves when its output is a file, a pipe or a CI log rather than a terminal.</summary>
internal static class CliConsole
{
    /// <summary>
    /// The width a redirected console renders at. Spectre assumes 80 columns when there is no terminal to ask, and
    /// wraps every longer line (a path, a rejection message) mid-sentence; a log has no width, so lines keep theirs.
    /// </summary>
    public const int RedirectedWidth = 4096;

    /// <summary>Gives a console that does not write to a terminal the unwrapped <see cref="RedirectedWidth"/>.</summary>
    public static void Configure(IAnsiConsole console, bool redirected)
    {
        if (redirected) console.Profile.Width = RedirectedWidth;
    }

    /// <summary><see cref="Configure(IAnsiConsole, bool)"/> for the process's console (the `pipeline` entry point calls it).</summary>
    public static void Configure() => Configure(AnsiConsole.Console, Console.IsOutputRedirected);
}
