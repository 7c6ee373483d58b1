using Pipeline.Tests;

namespace Pipeline.Infra.Tests.Services;

/// <summary>
/// Starts Azurite's blob service from .tools/azurite (build/prereqs.d/10-azurite.sh installs it) on 127.0.0.1 with a
/// free port, in memory, --skipApiVersionCheck --disableTelemetry; stops it after the test class.
/// PIPELINE_AZURITE may point at another azurite-blob executable.
/// </summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private LocalProcess? _process;
    private string? _workDir;

    public string? ConnectionString { get; private set; }
    /// <summary>Why Azurite is not available (not installed, did not start), or null when it runs.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>Call first in every test that needs Azurite: skips with <see cref="SkipReason"/>, fails under CI=true.</summary>
    public void Require()
    {
        if (SkipReason is not null) Requirement.Skip(SkipReason);
    }

    public async ValueTask InitializeAsync()
    {
        var exe = Environment.GetEnvironmentVariable("PIPELINE_AZURITE");
        if (string.IsNullOrEmpty(exe)) exe = Path.Combine(TestPaths.RepoRoot, ".tools", "azurite", "node_modules", ".bin", "azurite-blob");
        if (!File.Exists(exe))
        {
            SkipReason = $"Azurite not installed at {exe}: run `bash build/prereqs.d/10-azurite.sh` (build/test.sh does).";
            return;
        }
        _workDir = Directory.CreateTempSubdirectory("pipeline-azurite-").FullName;
        // The port is free when picked; if another process grabs it before Azurite binds, Azurite exits and we retry.
        for (var attempt = 1; ; attempt++)
        {
            var port = LocalProcess.FreePort();
            _process = LocalProcess.Start(exe,
                ["--blobHost", "127.0.0.1", "--blobPort", port.ToString(), "--inMemoryPersistence", "--skipApiVersionCheck", "--disableTelemetry", "--extentMemoryLimit", "256"],
                _workDir);
            try
            {
                await _process.WaitForPortAsync(port, TimeSpan.FromSeconds(60));
                ConnectionString = $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;";
                return;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
                await _process.DisposeAsync();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        if (_workDir is not null) try { Directory.Delete(_workDir, true); } catch (IOException) { }
    }
}
