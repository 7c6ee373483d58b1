using System.Text.RegularExpressions;
using System.Xml.Linq;
using Pipeline.Tests;

namespace Pipeline.Deployment.Tests.Docker;

/// <summary>No Docker engine here, so the worker's Dockerfile is checked statically against the repository.</summary>
public partial class DockerfileTests
{
    private static readonly string DockerfilePath = Path.Combine(TestPaths.RepoRoot, "gpu-worker", "Dockerfile");
    private static string[] Lines => File.ReadAllLines(DockerfilePath);

    [Fact]
    public void EveryCopiedSourceExistsInTheRepository()
    {
        var copies = Lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal) && !l.Contains("--from=", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(copies);
        foreach (var line in copies)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToArray();
            foreach (var src in parts[..^1])
                Assert.True(File.Exists(Path.Combine(TestPaths.RepoRoot, src)) || Directory.Exists(Path.Combine(TestPaths.RepoRoot, src)), $"Dockerfile copies '{src}', which does not exist");
        }
    }

    [Fact]
    public void PublishesTheWorkerProjectWhoseAssemblyIsTheEntrypoint()
    {
        var publish = Lines.SkipWhile(l => !l.Contains("dotnet publish", StringComparison.Ordinal)).First();
        var project = PublishProjectRegex().Match(publish).Groups[1].Value;
        var csproj = Path.Combine(TestPaths.RepoRoot, project);
        Assert.True(File.Exists(csproj), $"published project {project} does not exist");
        var assembly = XDocument.Load(csproj).Descendants("AssemblyName").Single().Value;
        Assert.Contains("TorchBackend=cuda", string.Join(' ', Lines), StringComparison.Ordinal);
        var entry = Lines.Single(l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal));
        Assert.Contains($"\"/app/{assembly}\"", entry, StringComparison.Ordinal);
        Assert.Contains("\"worker\"", entry, StringComparison.Ordinal);
        var health = Lines.Single(l => l.StartsWith("HEALTHCHECK", StringComparison.Ordinal));
        Assert.Contains($"/app/{assembly}", health, StringComparison.Ordinal);
    }

    [Fact]
    public void RunsAsNonRootOnCudaUbuntu2404WithoutSecrets()
    {
        var text = File.ReadAllText(DockerfilePath);
        Assert.Matches(@"FROM nvidia/cuda:[^\s]*ubuntu24\.04", text);
        var user = Lines.Last(l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.NotEqual("USER root", user.Trim());
        Assert.DoesNotMatch(@"(?i)(AccountKey|SharedAccessKey|password|secret)\s*=", text);
    }

    [Fact]
    public void TheEntrypointCommandsExistInTheCli()
    {
        // The image runs `pipeline worker` and probes `pipeline health`: both must be real commands.
        var cli = Path.Combine(TestPaths.RepoRoot, "gpu-worker", "Pipeline.Worker", "Cli");
        var sources = string.Join('\n', Directory.GetFiles(cli, "*.cs", SearchOption.AllDirectories).Select(File.ReadAllText));
        Assert.Contains("new Command(\"worker\"", sources, StringComparison.Ordinal);
        Assert.Contains("new Command(\"health\"", sources, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"dotnet publish\s+(\S+\.csproj)")]
    private static partial Regex PublishProjectRegex();
}
