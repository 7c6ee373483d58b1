namespace Pipeline.Worker.Tests.Training;

/// <summary>
/// The training commands show Spectre.Console progress displays, and Spectre allows one at a time per process
/// ("Trying to run one or more interactive functions concurrently"): test classes that invoke them share this
/// collection so xunit runs them one after another.
/// </summary>
[CollectionDefinition(Name)]
public sealed class SpectreConsoleCollection
{
    public const string Name = "Spectre.Console progress (one at a time)";
}
