using Spectre.Console;

[assembly: AssemblyFixture(typeof(Pipeline.Worker.Tests.SpectreConsoleFixture))]

namespace Pipeline.Worker.Tests;

/// <summary>
/// Spectre.Console allows one live display (progress, status) per console at a time and throws for a second
/// ("Trying to run one or more interactive functions concurrently"). CLI tests invoke commands with progress bars
/// from test classes that xunit runs in parallel, so for this assembly the shared console makes the second display
/// wait for the first instead. Created once, before any test, on the real standard output.
/// </summary>
public sealed class SpectreConsoleFixture
{
    public SpectreConsoleFixture() =>
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out), ExclusivityMode = new WaitingExclusivity() });

    private sealed class WaitingExclusivity : IExclusivityMode
    {
        private readonly SemaphoreSlim _gate = new(1, 1);

        public T Run<T>(Func<T> func)
        {
            _gate.Wait();
            try { return func(); }
            finally { _gate.Release(); }
        }

        public async Task<T> RunAsync<T>(Func<Task<T>> func)
        {
            await _gate.WaitAsync().ConfigureAwait(false);
            try { return await func().ConfigureAwait(false); }
            finally { _gate.Release(); }
        }
    }
}
