using Microsoft.Extensions.DependencyInjection;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Operations.Inputs;

namespace Pipeline.Worker.Tests.Architecture;

/// <summary>
/// The CLI's services come from the worker's composition (#20): settings bound once from the same configuration
/// sources, the blob store those settings describe, face preparation over those settings. `pipeline mix --publish`
/// and the project/translate commands use it instead of reading environment variables themselves.
/// </summary>
public class CliCompositionTests
{
    [Fact]
    public async Task CliHostBindsSettingsOnceAndBuildsTheConfiguredStore()
    {
        var root = Directory.CreateTempSubdirectory("cli-host-").FullName;
        try
        {
            using var host = WorkerHost.CreateCliHost("--Pipeline:Storage:Kind=local", $"--Pipeline:Storage:Root={root}", "--Pipeline:Faces:OutputSize=128");
            var settings = host.Services.GetRequiredService<PipelineSettings>();
            Assert.Equal(128, settings.Faces.OutputSize);
            Assert.Same(settings, host.Services.GetRequiredService<PipelineSettings>());
            Assert.Same(host.Services.GetRequiredService<FacePreparation>(), host.Services.GetRequiredService<FacePreparation>());
            var store = host.Services.GetRequiredService<IBlobStore>();
            await store.PutBytesAsync("datasets/x/a.txt", new byte[] { 1, 2, 3 }, cancellationToken: TestContext.Current.CancellationToken);
            Assert.True(File.Exists(Path.Combine(root, "datasets", "x", "a.txt")) || Directory.EnumerateFiles(root, "a.txt", SearchOption.AllDirectories).Any(),
                "the CLI's store does not write where Pipeline:Storage:Root says");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
