using Pipeline.Infra.Contracts;
using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using Pipeline.Tests;
using Pipeline.Worker.Cli.StyleGan1;
using SkiaSharp;
using Pipeline.Worker.Operations.Mixing;

namespace Pipeline.Worker.Tests.StyleGan1;

/// <summary>`pipeline mix` end to end on a fixture checkpoint: files, manifest and pixels agree with each other.</summary>
public sealed class MixCommandTests : IDisposable
{
    private readonly string outDir = Directory.CreateTempSubdirectory("mix-test-").FullName;

    public void Dispose() => Directory.Delete(outDir, recursive: true);

    /// <summary>The first fixture case whose weights.model is a v1 checkpoint with g_running.</summary>
    private static string FixtureCheckpoint()
    {
        var root = TestPaths.RequireFixtureDir("stylegan1");
        foreach (var dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, "weights.model");
            if (!File.Exists(path)) continue;
            try
            {
                if (StyleGan1Checkpoint.Load(path).GRunning is not null) return path;
            }
            catch (InvalidDataException) { }
        }
        Requirement.Skip($"No StyleGAN v1 checkpoint with g_running (weights.model) among the fixture cases under {root}");
        return "";
    }

    [Fact]
    public async Task GridManifestAndTilesAgree()
    {
        var request = new MixRequest
        {
            ModelPath = FixtureCheckpoint(),
            OutputDirectory = outDir,
            RowSeeds = [3, 4],
            ColumnSeeds = [5, 6, 7],
            Range = MixingRange.Coarse,
            Size = 16,
            Device = "cpu",
            BatchSize = 4,
        };
        var (manifest, path) = await MixGridRenderer.WriteAsync(request, null, TestContext.Current.CancellationToken);

        var json = JsonSerializer.Deserialize<MixManifest>(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken), MixManifest.Json)!;
        Assert.Equal(MixManifest.KindName, json.Kind);
        Assert.Equal(6, json.Cells.Count);
        Assert.Equal((2, 3, 16, 2), (json.Rows, json.Columns, json.Resolution, json.Step));
        Assert.Equal([4, 8], json.Range.Resolutions);
        Assert.Equal([5L, 6, 7], json.ColumnSources.Select(s => s.Seed));

        using var grid = SKBitmap.Decode(Path.Combine(outDir, json.Grid.Image));
        Assert.Equal((json.Grid.Width, json.Grid.Height), (grid.Width, grid.Height));
        foreach (var cell in json.Cells)
        {
            Assert.Equal(request.RowSeeds[cell.Row], cell.RowSeed);
            Assert.Equal(request.ColumnSeeds[cell.Column], cell.ColumnSeed);
            using var tile = SKBitmap.Decode(Path.Combine(outDir, cell.Image));
            Assert.Equal(16, tile.Width);
            for (int y = 0; y < tile.Height; y += 5)
                for (int x = 0; x < tile.Width; x += 5)
                    Assert.Equal(tile.GetPixel(x, y), grid.GetPixel(cell.Rect.X + x, cell.Rect.Y + y));
        }
        // Coarse mixing: a cell differs from its row source (its coarse levels come from the column source).
        using var row0 = SKBitmap.Decode(Path.Combine(outDir, json.RowSources[0].Image));
        using var cell00 = SKBitmap.Decode(Path.Combine(outDir, json.Cells[0].Image));
        Assert.NotEqual(row0.Bytes, cell00.Bytes);
        Assert.Equal(manifest.Cells.Count, json.Cells.Count);

        // Published to storage, every path in the manifest resolves next to the manifest blob.
        var store = new Pipeline.Infra.Storage.FileSystemBlobStore(new Pipeline.Infra.Storage.FileSystemBlobStoreOptions { Root = Path.Combine(outDir, "store") });
        var blob = await MixGridPublisher.PublishAsync(store, "gallery-batch", manifest, path, TestContext.Current.CancellationToken);
        Assert.Equal("datasets/gallery-batch/mix-coarse.json", blob);
        foreach (var rel in json.Cells.Select(c => c.Image).Append(json.Grid.Image))
            Assert.NotNull(await store.GetPropertiesAsync("datasets/gallery-batch/" + rel, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task MissingCheckpointIsAClearErrorWithExitCode2()
    {
        var cmd = new MixCommand().Build();
        var root = new System.CommandLine.RootCommand { cmd };
        var code = await root.Parse(["mix", "--model", Path.Combine(outDir, "nope.model"), "--out", outDir]).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(2, code);
        Assert.Empty(Directory.GetFiles(outDir));
    }
}
