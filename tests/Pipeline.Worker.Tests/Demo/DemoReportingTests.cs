using Pipeline.Engine.Metrics;
using Pipeline.Imaging.Faces;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Cli;
using Pipeline.Worker.Cli.Demo;
using Spectre.Console;

namespace Pipeline.Worker.Tests.Demo;

/// <summary>What the demo prints about its environment and its results: optional parts, verdicts, unwrapped lines.</summary>
public sealed class DemoReportingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("demo-report-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void OptionalPartsAreFoundWhereTheWorkerLooksAndEachMissingOneSaysWhatItChanges()
    {
        var empty = DemoOptionalParts.Find(new FeatureNetworkStore(new FeatureNetworkOptions { CacheDirectory = _dir }));
        Assert.Equal(["face cascade", "landmark model", "Inception weights", "VGG16 weights"], empty.Select(p => p.Name));
        Assert.Equal(File.Exists(HaarCascade.DebianFrontalFaceAlt2) ? HaarCascade.DebianFrontalFaceAlt2 : null, empty[0].FoundAt);
        Assert.Equal(File.Exists(ShapePredictor.DebianShapePredictor68) ? ShapePredictor.DebianShapePredictor68 : null, empty[1].FoundAt);
        Assert.All(empty.Skip(2), p => Assert.Null(p.FoundAt));
        Assert.All(empty, p => Assert.False(string.IsNullOrWhiteSpace(p.IfMissing) || string.IsNullOrWhiteSpace(p.HowToGet), p.Name));

        // VGG16 counts as found only with the LPIPS heads beside the trunk: the metric and the projector need both.
        File.WriteAllText(Path.Combine(_dir, FeatureNetworks.Vgg16.FileName), "");
        Assert.Null(DemoOptionalParts.Find(new FeatureNetworkStore(new FeatureNetworkOptions { CacheDirectory = _dir }))[3].FoundAt);
        File.WriteAllText(Path.Combine(_dir, FeatureNetworks.LpipsVggHeads.FileName), "");
        File.WriteAllText(Path.Combine(_dir, FeatureNetworks.Inception.FileName), "");
        var all = DemoOptionalParts.Find(new FeatureNetworkStore(new FeatureNetworkOptions { CacheDirectory = _dir }));
        Assert.Equal(Path.Combine(_dir, FeatureNetworks.Inception.FileName), all[2].FoundAt);
        Assert.Contains(FeatureNetworks.LpipsVggHeads.FileName, all[3].FoundAt, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.08", "LPIPS 0.080 < 0.15: likely generated")]
    [InlineData("0.31", "LPIPS 0.310 >= 0.15: not flagged as generated")]
    [InlineData("null", "no generated-image verdict (LPIPS needs the VGG16 weights; MSE 0.0200)")]
    public async Task TheProjectionVerdictComparesTheLpipsDistanceWithTheThreshold(string lpips, string expected)
    {
        var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _dir });
        var report = System.Text.Encoding.UTF8.GetBytes($$"""{ "mse": 0.02, "lpips": {{lpips}}, "likelyGenerated": null, "threshold": 0.15 }""");
        await store.PutBytesAsync(BlobLayout.Result("prj-1", "projection.json"), report, new BlobPutOptions(), TestContext.Current.CancellationToken);
        Assert.Equal(expected, await DemoResults.VerdictAsync(store, "prj-1", TestContext.Current.CancellationToken));
        Assert.Null(await DemoResults.VerdictAsync(store, "prj-2", TestContext.Current.CancellationToken));
    }

    [Fact]
    public void RedirectedOutputIsNotWrappedAtEightyColumns()
    {
        var line = "rejected selfies/not-really.png: not_an_image (" + new string('x', 150) + ")";
        foreach (var redirected in new[] { true, false })
        {
            var text = new StringWriter();
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(text), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
            console.Profile.Width = 80; // what Spectre assumes when there is no terminal to ask
            CliConsole.Configure(console, redirected);
            console.WriteLine(line);
            var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (redirected) Assert.Equal(line, Assert.Single(lines).TrimEnd());
            else Assert.True(lines.Length > 1, "a terminal's width still applies");
        }
    }
}
