namespace Pipeline.Tests;

/// <summary>Locations tests read from: the repo root and the parity fixture root.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the folder holding Pipeline.sln).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// Fixture root: $PIPELINE_FIXTURES, else ../shared/fixtures beside the repo root.
    /// Null when absent, so parity tests can skip with a message (or fail under CI=true, see <see cref="Requirement"/>).
    /// </summary>
    public static string? FixtureRoot
    {
        get
        {
            var path = ExpectedFixtureRoot;
            return Directory.Exists(path) ? path : null;
        }
    }

    /// <summary>The folder the fixtures are looked for in ($PIPELINE_FIXTURES or ../shared/fixtures), whether or not it exists.</summary>
    public static string ExpectedFixtureRoot
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("PIPELINE_FIXTURES");
            return string.IsNullOrWhiteSpace(env)
                ? Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures"))
                : Path.GetFullPath(env);
        }
    }

    /// <summary>Fixture root, or skips the calling test (fails under CI=true) with a clear message when it is absent.</summary>
    public static string RequireFixtureRoot()
    {
        var root = FixtureRoot;
        if (root is null)
            Requirement.Skip($"Parity fixtures not found at {ExpectedFixtureRoot}: set PIPELINE_FIXTURES or place them at ../shared/fixtures beside the repo.");
        return root;
    }

    /// <summary>A fixture sub-folder (e.g. "stylegan2"), or a skip (a failure under CI=true) when absent.</summary>
    public static string RequireFixtureDir(string family)
    {
        var root = RequireFixtureRoot();
        var dir = Path.Combine(root, family);
        Requirement.SkipUnless(Directory.Exists(dir), $"Fixture family '{family}' not present under {root}.");
        return dir;
    }

    /// <summary>
    /// Sub-directories of a fixture family for data-driven theories; empty when the fixtures are absent. Theories add a
    /// placeholder row in that case whose test body then calls <see cref="RequireFixtureDir"/> or
    /// <see cref="Requirement.Skip(string)"/>, so a missing family is a skip locally and a failure under CI=true
    /// (never a theory with no rows).
    /// </summary>
    public static IEnumerable<string> FixtureCases(string family, string? requiredFile = null)
    {
        var root = FixtureRoot;
        if (root is null) return [];
        var dir = Path.Combine(root, family);
        if (!Directory.Exists(dir)) return [];
        return Directory.GetDirectories(dir)
            .Where(d => requiredFile is null || File.Exists(Path.Combine(d, requiredFile)))
            .Select(Path.GetFileName)
            .OfType<string>()
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pipeline.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Pipeline.sln not found above " + AppContext.BaseDirectory);
    }
}
