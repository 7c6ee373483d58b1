using System.Text.RegularExpressions;
using Pipeline.Tests;

namespace Pipeline.Worker.Tests.Architecture;

/// <summary>
/// TorchSharp's <c>no_grad()</c>, <c>enable_grad()</c>, <c>inference_mode()</c> and <c>NewDisposeScope()</c> belong to
/// the thread that opens them. Held across an <c>await</c> (or a <c>yield return</c>), the code resumes on another
/// thread and the scope is left on the first one: gradients stay off there, and a later training or projection step
/// on it fails with "element 0 of tensors does not require grad" (two tests did this and failed other tests at
/// random), or another job's tensors land in the scope. Checked on the sources of the worker, the engine and the tests.
/// </summary>
public class ThreadScopeTests
{
    private static readonly Regex Opening = new(
        @"using\s*(\(\s*)?(var\s+\w+\s*=\s*)?(torch\.)?(no_grad|enable_grad|inference_mode|NewDisposeScope)\(", RegexOptions.Compiled);

    private static readonly Regex Suspension = new(@"\bawait\b|\byield\s+return\b", RegexOptions.Compiled);

    [Fact]
    public void NoThreadBoundScopeSpansAnAwaitOrAYield()
    {
        var roots = new[] { "gpu-worker", "tests" }.Select(d => Path.Combine(TestPaths.RepoRoot, d));
        var found = new List<string>();
        foreach (var file in roots.SelectMany(r => Directory.EnumerateFiles(r, "*.cs", SearchOption.AllDirectories)).Order(StringComparer.Ordinal))
        {
            var rel = Path.GetRelativePath(TestPaths.RepoRoot, file).Replace('\\', '/');
            if (rel.Contains("/bin/", StringComparison.Ordinal) || rel.Contains("/obj/", StringComparison.Ordinal)) continue;
            if (Path.GetFileName(file) == nameof(ThreadScopeTests) + ".cs") continue; // its own examples below
            found.AddRange(Spans(File.ReadAllLines(file)).Select(s => $"{rel}:{s}"));
        }
        Assert.True(found.Count == 0, $"{found.Count} thread-bound scope(s) held across an await or yield:\n" + string.Join("\n", found));
    }

    [Fact]
    public void TheCheckFindsWhatItIsMeantToFind()
    {
        // A `using var` scope runs to the end of its block.
        Assert.Single(Spans(["{", "    using var _ = no_grad();", "    var x = await ReadAsync();", "}"]));
        Assert.Single(Spans(["{", "    using var scope = torch.NewDisposeScope();", "    yield return x;", "}"]));
        // A `using (...)` statement covers its block or its one statement.
        Assert.Single(Spans(["using (no_grad())", "{", "    await Task.Yield();", "}"]));
        Assert.Empty(Spans(["using (no_grad()) y = f(x);", "await Task.Yield();"]));
        // Awaits before the scope, after its block closes, or in a comment are fine.
        Assert.Empty(Spans(["{", "    var b = await ReadAsync();", "    {", "        using var _ = no_grad();", "        f(b);", "    }", "    await WriteAsync();", "}"]));
        Assert.Empty(Spans(["{", "    using var _ = no_grad();", "    f(x); // not await here", "}"]));
    }

    /// <summary>"line: text" of each scope opening with an await or yield inside the scope.</summary>
    internal static List<string> Spans(IReadOnlyList<string> lines)
    {
        var found = new List<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            var m = Opening.Match(Code(lines[i]));
            if (!m.Success) continue;
            bool statement = m.Groups[1].Success; // using (...): a block or one statement; using var: the rest of the block
            int depth = 0;
            bool opened = false;
            for (int j = i; j < lines.Count; j++)
            {
                var code = Code(lines[j]);
                if (j == i) code = code[(m.Index + m.Length)..];
                if (Suspension.IsMatch(code)) { found.Add($"{i + 1}: {lines[i].Trim()} (suspends at line {j + 1})"); break; }
                foreach (var c in code)
                {
                    if (c == '{') { depth++; opened = true; }
                    else if (c == '}') depth--;
                }
                if (!statement && depth < 0) break;
                if (statement && (opened ? depth <= 0 : code.TrimEnd().EndsWith(';'))) break;
            }
        }
        return found;
    }

    private static string Code(string line)
    {
        int comment = line.IndexOf("//", StringComparison.Ordinal);
        return comment < 0 ? line : line[..comment];
    }
}
