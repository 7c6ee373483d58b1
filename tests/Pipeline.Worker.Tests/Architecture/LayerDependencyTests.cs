using System.Text.RegularExpressions;
using Pipeline.Tests;

namespace Pipeline.Worker.Tests.Architecture;

/// <summary>
/// The worker's folders are layers and the dependency runs one way (#20): Cli -> Operations &lt;- Jobs. Operations (the
/// one implementation of each operation's decode, prepare, run and encode) uses neither Cli nor Jobs; Jobs never use
/// Cli; Cli never uses Jobs. Checked on the sources: using directives, fully qualified names, and names relative to
/// the enclosing Pipeline.Worker namespace (<c>Jobs.ModelCache</c>, <c>Cli.StyleGan2.Sg2Images</c>).
/// </summary>
public class LayerDependencyTests
{
    private static readonly (string Layer, string[] Forbidden)[] Rules =
    [
        ("Operations", ["Cli", "Jobs"]),
        ("Jobs", ["Cli"]),
        ("Cli", ["Jobs"]),
    ];

    [Fact]
    public void DependenciesRunFromCliAndJobsToOperationsOnly()
    {
        var violations = Violations();
        Assert.True(violations.Count == 0, $"{violations.Count} layer violation(s):\n" + string.Join("\n", violations));
    }

    [Fact]
    public void TheCheckSeesAllThreeLayers()
    {
        var root = Path.Combine(TestPaths.RepoRoot, "gpu-worker", "Pipeline.Worker");
        foreach (var (layer, _) in Rules)
            Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(root, layer), "*.cs", SearchOption.AllDirectories));
        // The patterns find what they are meant to find.
        Assert.NotEmpty(Find("using Pipeline.Worker.Cli.StyleGan2;", "Cli"));
        Assert.NotEmpty(Find("var x = Pipeline.Worker.Jobs.Shared.Png.Encode(i);", "Jobs"));
        Assert.NotEmpty(Find("using var m = await Jobs.ModelCache.Open();", "Jobs"));
        Assert.NotEmpty(Find("using Request = Pipeline.Worker.Jobs.StyleGan2.ProjectionBatcher.Request;", "Jobs"));
        Assert.Empty(Find("/// <summary>Like Pipeline.Worker.Jobs.X, but not.</summary>", "Jobs"));
        Assert.Empty(Find("var cliJobs = MyJobs.Count; // Jobs.Count", "Jobs"));
    }

    /// <summary>"file:line: text" for every reference from a layer to a layer it must not use.</summary>
    internal static List<string> Violations()
    {
        var root = Path.Combine(TestPaths.RepoRoot, "gpu-worker", "Pipeline.Worker");
        var found = new List<string>();
        foreach (var (layer, forbidden) in Rules)
        {
            var dir = Path.Combine(root, layer);
            if (!Directory.Exists(dir)) continue;
            foreach (var file in Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var lines = File.ReadAllLines(file);
                for (int i = 0; i < lines.Length; i++)
                    foreach (var target in forbidden)
                        foreach (var hit in Find(lines[i], target))
                            found.Add($"{Path.GetRelativePath(root, file).Replace('\\', '/')}:{i + 1}: {layer} -> {target}: {hit}");
            }
        }
        return found;
    }

    /// <summary>References to namespace Pipeline.Worker.&lt;target&gt; on one source line (comments ignored).</summary>
    private static IEnumerable<string> Find(string line, string target)
    {
        var code = StripComment(line);
        var pattern = $@"(?:\bPipeline\.Worker\.{target}\b|(?<![\w.]){target}\.[A-Z]\w*)";
        return Regex.Matches(code, pattern).Select(m => m.Value);
    }

    /// <summary>The line without a // comment (string literals holding "//" are rare in this code and only make the check stricter).</summary>
    private static string StripComment(string line)
    {
        int i = line.IndexOf("//", StringComparison.Ordinal);
        return i < 0 ? line : line[..i];
    }
}
