namespace Pipeline.Engine.Tests.Foundation;

/// <summary>
/// Tests that read process-wide state run alone, after the parallel ones: glibc's and MKL's memory figures, and torch's
/// global generator (a test next door drawing from it between a manual_seed and a draw changes what is drawn).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideStateCollection
{
    public const string Name = "process-wide state";
}
