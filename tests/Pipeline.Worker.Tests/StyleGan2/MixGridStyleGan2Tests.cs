using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Worker.Cli.StyleGan1;
using Pipeline.Worker.Cli.StyleGan2;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;
using Pipeline.Worker.Operations.Imaging;
using Pipeline.Worker.Operations.Mixing;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>
/// `pipeline mix` on a StyleGAN2 checkpoint (a tiny random 32 px generator): every cell is checked against the
/// generator run directly with a W+ built here from the spec's latent-row table, not with the renderer's helpers.
/// </summary>
public sealed class MixGridStyleGan2Tests : IDisposable
{
    private const int StyleDim = 8;
    private readonly string _dir = Directory.CreateTempSubdirectory("mix-sg2-").FullName;
    private readonly string _ckpt;

    public MixGridStyleGan2Tests()
    {
        manual_seed(5);
        using var g = new Generator(new GeneratorConfig(32, StyleDim, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 4, [32] = 4 }));
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in g.state_dict()) sd[k] = v.detach().clone();
        _ckpt = Path.Combine(_dir, "tiny-sg2-32.pt");
        TorchFile.Save(_ckpt, new OrderedDictionary<string, object?> { ["g_ema"] = sd });
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// W+ rows of a 32 px generator (n_latent 8) by the resolution they modulate, read off spec section 2.3's table:
    /// conv1 = row 0 and to_rgb1 = row 1 work at 4 px (row 1 also feeds convs.0, which reads the 4 px map);
    /// convs.1 = row 2, to_rgbs.0 = row 3 at 8 px; rows 4-5 at 16 px; rows 6-7 at 32 px.
    /// </summary>
    private static readonly Dictionary<string, int[]> RowsFromB = new()
    {
        ["coarse"] = [0, 1, 2, 3],
        ["middle"] = [4, 5, 6, 7],
    };

    private static Tensor Z(long seed)
    {
        using var gen = new torch.Generator((ulong)seed);
        return randn([1, StyleDim], generator: gen);
    }

    [Theory]
    [InlineData("coarse")]
    [InlineData("middle")]
    public void CellsBitEqualTheGeneratorOnAHandBuiltWPlus(string rangeName)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var g = StyleGan2Checkpoint.Load(_ckpt).Generator;
        long[] rowSeeds = [3, 4], colSeeds = [5, 6, 7];
        var o = new StyleMixingGrid2Options
        {
            RowSeeds = rowSeeds, ColumnSeeds = colSeeds, Range = MixingRange.Parse(rangeName),
            Truncation = 0.7, MeanLatentSeed = 9, MeanLatentSamples = 256, BatchSize = 6,
        };
        using var grid = StyleMixingGrid2.Render(g, o);
        Assert.Equal([6L, 3, 32, 32], grid.Cells.shape);

        // The reference path: mapping, truncation and broadcast by the generator's own forward (rosinality semantics).
        Tensor mean;
        using (var gen = new torch.Generator(9UL)) mean = g.Map(randn([256, StyleDim], generator: gen)).mean([0], keepdim: true);
        var plain = new GenerateOptions { Truncation = 0.7, TruncationLatent = mean, RandomizeNoise = false };
        var zA = cat(rowSeeds.Select(Z).ToArray(), 0);
        var zB = cat(colSeeds.Select(Z).ToArray(), 0);
        Assert.True(BitEqual(g.Forward([zA], plain).Image, grid.RowImages), "row sources differ from plain generation of their seeds");
        Assert.True(BitEqual(g.Forward([zB], plain).Image, grid.ColumnImages), "column sources differ from plain generation of their seeds");

        var wA = mean + 0.7 * (g.Map(zA) - mean);
        var wB = mean + 0.7 * (g.Map(zB) - mean);
        var wPlus = new List<Tensor>();
        for (int r = 0; r < rowSeeds.Length; r++)
            for (int c = 0; c < colSeeds.Length; c++)
                wPlus.Add(stack(Enumerable.Range(0, 8).Select(k => RowsFromB[rangeName].Contains(k) ? wB[c] : wA[r]).ToArray(), 0));
        var expected = g.Forward([stack(wPlus, 0)], new GenerateOptions { InputIsLatent = true, RandomizeNoise = false }).Image;
        Assert.True(BitEqual(expected, grid.Cells), "mixed cells differ from the generator on the hand-built W+");

        // The mix is visible: a cell is neither its row source nor its column source.
        Assert.False(BitEqual(grid.Cells[0], grid.RowImages[0]));
        Assert.False(BitEqual(grid.Cells[0], grid.ColumnImages[0]));
        Assert.Equal(rowSeeds.SelectMany(r => colSeeds.Select(c => (r, c))), grid.CellInfo.Select(i => (i.RowSeed, i.ColumnSeed)));
    }

    [Fact]
    public async Task MixCommandWritesAStyleGan2GridAndManifest()
    {
        var outDir = Path.Combine(_dir, "out");
        var code = await Invoke("mix", "--model", _ckpt, "--rows", "2", "--cols", "3", "--seed", "10", "--range", "middle",
            "--truncation", "0.8", "--batch", "4", "--out", outDir, "--device", "cpu");
        Assert.Equal(0, code);

        var m = JsonSerializer.Deserialize<MixManifest>(await File.ReadAllTextAsync(Path.Combine(outDir, "mix-middle.json"), TestContext.Current.CancellationToken), MixManifest.Json)!;
        Assert.Equal(MixManifest.KindNameStyleGan2, m.Kind);
        Assert.Equal("stylegan2", m.Model.Family);
        Assert.Equal((2, 3, 32, 3), (m.Rows, m.Columns, m.Resolution, m.Step));
        Assert.Equal([16, 32], m.Range.Resolutions);
        Assert.Equal(RowsFromB["middle"], m.Range.LatentRows);
        Assert.Equal((MixManifest.NoiseStoredBuffers, -1L), (m.Noise, m.NoiseSeed));
        Assert.Equal([10L, 11], m.RowSources.Select(s => s.Seed));
        Assert.Equal([12L, 13, 14], m.ColumnSources.Select(s => s.Seed));
        Assert.Equal(6, m.Cells.Count);

        // Pixels: every tile file is exactly its rectangle of the grid, and the PNGs are the engine's tensors through
        // the StyleGAN2 encoder (save_image rounding).
        using var gridPng = SKBitmap.Decode(Path.Combine(outDir, m.Grid.Image));
        Assert.Equal((4 * 34 + 2, 3 * 34 + 2), (gridPng.Width, gridPng.Height));
        Assert.Equal((m.Grid.Width, m.Grid.Height), (gridPng.Width, gridPng.Height));
        using var g = StyleGan2Checkpoint.Load(_ckpt).Generator;
        using var grid = StyleMixingGrid2.Render(g, new StyleMixingGrid2Options { RowSeeds = [10, 11], ColumnSeeds = [12, 13, 14], Range = MixingRange.Middle, Truncation = 0.8, BatchSize = 4 });
        var tiles = m.Cells.Select(c => (c.Image, c.Rect, grid.Cells[c.Row * 3 + c.Column]))
            .Concat(m.RowSources.Select(s => (s.Image, s.Rect, grid.RowImages[s.Index])))
            .Concat(m.ColumnSources.Select(s => (s.Image, s.Rect, grid.ColumnImages[s.Index])));
        foreach (var (image, rect, tensor) in tiles)
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(outDir, image), TestContext.Current.CancellationToken);
            Assert.Equal(GeneratorImages.EncodePng(tensor), bytes);
            using var tile = SKBitmap.Decode(bytes);
            Assert.Equal((32, 32), (tile.Width, tile.Height));
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                    Assert.Equal(tile.GetPixel(x, y), gridPng.GetPixel(rect.X + x, rect.Y + y));
        }

        // Published like v1: everything under datasets/<batchId>/, manifest last.
        var store = new Pipeline.Infra.Storage.FileSystemBlobStore(new Pipeline.Infra.Storage.FileSystemBlobStoreOptions { Root = Path.Combine(_dir, "store") });
        var blob = await MixGridPublisher.PublishAsync(store, "sg2-grid", m, Path.Combine(outDir, "mix-middle.json"), TestContext.Current.CancellationToken);
        Assert.Equal("datasets/sg2-grid/mix-middle.json", blob);
        foreach (var rel in m.Cells.Select(c => c.Image).Append(m.Grid.Image))
            Assert.NotNull(await store.GetPropertiesAsync("datasets/sg2-grid/" + rel, TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("--range", "fine")]        // 64 px and up: no latent row in a 32 px generator
    [InlineData("--noise-seed", "3")]      // v2 noise is the stored buffers
    [InlineData("--size", "64")]           // a StyleGAN2 generator has one size
    public async Task ImpossibleRequestsExitWith2AndWriteNothing(string option, string value)
    {
        var outDir = Path.Combine(_dir, "bad");
        Assert.Equal(2, await Invoke("mix", "--model", _ckpt, "--rows", "2", "--cols", "2", option, value, "--out", outDir, "--device", "cpu"));
        Assert.False(Directory.Exists(outDir) && Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories).Any());
    }

    [Fact]
    public async Task ACheckpointOfNeitherFamilyIsAClearErrorWithExitCode2()
    {
        var foreign = Path.Combine(_dir, "d_only.pt");
        TorchFile.Save(foreign, new OrderedDictionary<string, object?> { ["d"] = new OrderedDictionary<string, object?>() });
        Assert.Equal(2, await Invoke("mix", "--model", foreign, "--out", Path.Combine(_dir, "foreign"), "--device", "cpu"));
        Assert.False(Directory.Exists(Path.Combine(_dir, "foreign")));
    }

    [Fact]
    public void RangeRowsFollowTheResolutionEachRowModulates()
    {
        // 256 px (n_latent 14), spec's table: rows 0-3 at 4-8 px, 4-7 at 16-32 px, 8-13 at 64-256 px.
        var c = GeneratorConfig.Reference(256, styleDim: 8, nMlp: 1);
        Assert.Equal([0, 1, 2, 3], StyleMixingGrid2.RangeRows(c, MixingRange.Coarse));
        Assert.Equal([4, 5, 6, 7], StyleMixingGrid2.RangeRows(c, MixingRange.Middle));
        Assert.Equal([8, 9, 10, 11, 12, 13], StyleMixingGrid2.RangeRows(c, MixingRange.Fine));
        Assert.Throws<ArgumentException>(() => StyleMixingGrid2.RangeRows(GeneratorConfig.Reference(32, 8, 1), MixingRange.Fine));
    }

    private static bool BitEqual(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static Task<int> Invoke(params string[] args)
    {
        var root = new System.CommandLine.RootCommand { new MixCommand().Build() };
        return root.Parse(args).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
    }
}
