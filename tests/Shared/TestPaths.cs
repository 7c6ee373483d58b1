namespace Pipeline.Tests;

/// <summary>Locations tests read from: the repo root and the parity fixture root.</summary>
public static class TestPaths
{
    /// <summary>The repository root (the folder holding Pipeline.sln).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// Fixture root: $PIPELINE_FIXTURES, else ../shared/fixtures beside the repo root.
    /// Null when absent, so parity tests can skip with a message instead of failing.
    /// </summary>
    public static string? FixtureRoot
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("PIPELINE_FIXTURES");
            var path = string.IsNullOrWhiteSpace(env)
                ? Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "fixtures"))
                : Path.GetFullPath(env);
            return Directory.Exists(path) ? path : null;
        }
    }

    /// <summary>Fixture root, or skips the calling test with a clear message when it is absent.</summary>
    public static string RequireFixtureRoot()
    {
        var root = FixtureRoot;
        if (root is null)
            Assert.Skip("Parity fixtures not found: set PIPELINE_FIXTURES or place them at ../shared/fixtures beside the repo.");
        return root!;
    }

    /// <summary>A fixture sub-folder (e.g. "stylegan2"), or a skip when absent.</summary>
    public static string RequireFixtureDir(string family)
    {
        var dir = Path.Combine(RequireFixtureRoot(), family);
        if (!Directory.Exists(dir))
            Assert.Skip($"Fixture family '{family}' not present under {FixtureRoot}.");
        return dir;
    }

    /// <summary>Sub-directories of a fixture family for data-driven theories; empty when the fixtures are absent.</summary>
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
