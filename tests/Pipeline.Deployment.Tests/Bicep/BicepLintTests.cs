using Pipeline.Tests;

namespace Pipeline.Deployment.Tests.Bicep;

/// <summary>Every template and parameter file under bicep/ builds and lints with zero diagnostics.</summary>
public sealed class BicepLintTests
{
    public static TheoryData<string> BicepFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(CompiledTemplate.BicepDir, "*.bicep", SearchOption.AllDirectories).Order())
            data.Add(Path.GetRelativePath(CompiledTemplate.BicepDir, f));
        return data;
    }

    public static TheoryData<string> ParamFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(CompiledTemplate.BicepDir, "*.bicepparam", SearchOption.AllDirectories).Order())
            data.Add(Path.GetRelativePath(CompiledTemplate.BicepDir, f));
        return data;
    }

    [Fact]
    public void TheBicepFolderHoldsTheMainTemplateAndItsModules()
    {
        var files = BicepFiles().Select(r => r.Data).ToList();
        Assert.Contains("main.bicep", files);
        Assert.True(files.Count(f => f.StartsWith("modules", StringComparison.Ordinal)) >= 5, string.Join(", ", files));
        Assert.True(File.Exists(Path.Combine(CompiledTemplate.BicepDir, "bicepconfig.json")), "bicep/bicepconfig.json sets the lint rules");
    }

    [Fact]
    public async Task EveryTemplateBuildsWithoutDiagnostics()
    {
        var (code, output, outDir) = await CompiledTemplate.BuildAllAsync();
        Assert.True(code == 0, $"bicep build exited {code}:\n{output}");
        Assert.Empty(BicepCli.Diagnostics(output));
        foreach (var file in BicepFiles().Select(r => r.Data))
            Assert.True(File.Exists(Path.Combine(outDir, Path.ChangeExtension(file, ".json"))), $"{file} was not compiled");
    }

    [Fact]
    public async Task EveryTemplateLintsWithoutDiagnostics()
    {
        var (code, output) = await BicepCli.RunAsync(CompiledTemplate.BicepDir, "lint", "--pattern", "**/*.bicep");
        Assert.True(code == 0, $"bicep lint exited {code}:\n{output}");
        Assert.Empty(BicepCli.Diagnostics(output));
    }

    [Theory, MemberData(nameof(ParamFiles))]
    public async Task ParameterFilesBuildWithoutDiagnostics(string file)
    {
        var (code, output) = await BicepCli.RunAsync(CompiledTemplate.BicepDir, "build-params", file, "--stdout");
        Assert.True(code == 0, $"bicep build-params {file} exited {code}:\n{output}");
        Assert.Empty(BicepCli.Diagnostics(output));
    }

    /// <summary>The gate above is only worth something if our config turns findings into visible diagnostics.</summary>
    [Fact]
    public async Task TheRepositoryLintConfigReportsFindings()
    {
        var dir = Directory.CreateTempSubdirectory("bicep-lint-").FullName;
        try
        {
            File.Copy(Path.Combine(CompiledTemplate.BicepDir, "bicepconfig.json"), Path.Combine(dir, "bicepconfig.json"));
            await File.WriteAllTextAsync(Path.Combine(dir, "bad.bicep"),
                "param unused string\n" +
                "resource sa 'Microsoft.Storage/storageAccounts@2021-01-01' = {\n" +
                "  name: 'x${uniqueString(resourceGroup().id)}'\n  location: 'westus3'\n  kind: 'StorageV2'\n  sku: { name: 'Standard_LRS' }\n}\n" +
                "output key string = sa.listKeys().keys[0].value\n",
                TestContext.Current.CancellationToken);
            var (_, output) = await BicepCli.RunAsync(dir, "lint", "bad.bicep");
            var diagnostics = string.Join('\n', BicepCli.Diagnostics(output));
            Assert.Contains("no-unused-params", diagnostics);
            Assert.Contains("use-recent-api-versions", diagnostics);
            Assert.Contains("outputs-should-not-contain-secrets", diagnostics);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
