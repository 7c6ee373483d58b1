using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace Pipeline.Deployment.Tests.Bicep;

/// <summary>The bicep CLI from the Azure.Bicep.CommandLine.linux-x64 NuGet package (never downloaded at test time).</summary>
internal static class BicepCli
{
    private static readonly Lazy<string> LazyPath = new(Locate);

    public static string Path => LazyPath.Value;

    /// <summary>Runs bicep with the given arguments; returns exit code and stdout+stderr (diagnostics go to stderr).</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(Path)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Offline by construction: no telemetry, no module registry lookups (templates use only local modules).
        psi.Environment["BICEP_TELEMETRY_ENABLED"] = "false";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {Path}.");
        var stdout = process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        var output = new StringBuilder().Append(await stdout).Append(await stderr).ToString();
        return (process.ExitCode, output);
    }

    /// <summary>Any bicep diagnostic line (" : Warning " / " : Error "); build and lint exit 0 on warnings.</summary>
    public static IReadOnlyList<string> Diagnostics(string output) =>
        output.Split('\n').Where(l => l.Contains(" : Warning ", StringComparison.Ordinal) || l.Contains(" : Error ", StringComparison.Ordinal))
            .Select(l => l.TrimEnd()).ToList();

    private static string Locate()
    {
        var candidates = new List<string>();
        var env = Environment.GetEnvironmentVariable("BICEP_PATH");
        if (!string.IsNullOrWhiteSpace(env)) candidates.Add(env);
        var fromBuild = typeof(BicepCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "BicepCliPath")?.Value;
        if (!string.IsNullOrWhiteSpace(fromBuild)) candidates.Add(fromBuild);
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES");
        if (string.IsNullOrWhiteSpace(cache))
            cache = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var pkg = System.IO.Path.Combine(cache, "azure.bicep.commandline.linux-x64");
        if (Directory.Exists(pkg))
            candidates.AddRange(Directory.GetDirectories(pkg).OrderDescending().Select(d => System.IO.Path.Combine(d, "tools", "bicep")));

        var found = candidates.FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException(
                "bicep CLI not found. Restore tests/Pipeline.Deployment.Tests (it references the NuGet package " +
                "Azure.Bicep.CommandLine.linux-x64) or set BICEP_PATH. Looked in: " + string.Join(", ", candidates));
        EnsureExecutable(found);
        return found;
    }

    private static void EnsureExecutable(string path)
    {
        if (OperatingSystem.IsWindows()) return;
        var mode = File.GetUnixFileMode(path);
        const UnixFileMode exec = UnixFileMode.UserExecute;
        if ((mode & exec) == 0) File.SetUnixFileMode(path, mode | exec);
    }
}
