using Pipeline.Engine;
using System.Security.Cryptography;
using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.StyleGan1;

/// <summary>A style-mixing grid job: which checkpoint, which seeds, where to write.</summary>
public sealed record MixRequest
{
    public required string ModelPath { get; init; }
    public required string OutputDirectory { get; init; }
    public required IReadOnlyList<long> RowSeeds { get; init; }
    public required IReadOnlyList<long> ColumnSeeds { get; init; }
    public MixingRange Range { get; init; } = MixingRange.Coarse;

    /// <summary>Output size in px (a power of two); null uses the resolution detected from the weights.</summary>
    public int? Size { get; init; }

    public double Truncation { get; init; } = 0.7;
    /// <summary>StyleGAN v1: seed of the shared noise maps (null = 0). StyleGAN2 uses the checkpoint's stored noise buffers, so a value is an error there.</summary>
    public long? NoiseSeed { get; init; }

    /// <summary>Seed of the z samples averaged into the mean style (v1) / mean latent (v2).</summary>
    public long MeanStyleSeed { get; init; }
    public int BatchSize { get; init; } = 16;
    public int Padding { get; init; } = 2;
    public string Device { get; init; } = "auto";
}

/// <summary>
/// Renders a grid with the engine and writes grid PNG, per-image PNGs and the manifest (the worker's composition of
/// <see cref="StyleMixingGrid"/> for StyleGAN v1 and <see cref="StyleMixingGrid2"/> for StyleGAN2 checkpoints; the
/// family is detected from the checkpoint's keys).
/// </summary>
public static partial class MixGridWriter
{
    public static async Task<(MixManifest Manifest, string ManifestPath)> WriteAsync(MixRequest req, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        var device = Devices.Parse(req.Device);
        if (!File.Exists(req.ModelPath)) throw new FileNotFoundException($"checkpoint not found: {req.ModelPath}", req.ModelPath);
        object? tree;
        try { tree = TorchFile.Load(req.ModelPath); }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            throw new InvalidDataException($"'{req.ModelPath}' is not a readable PyTorch checkpoint (torch.save zip or legacy format): {e.Message}", e);
        }
        var rendered = ModelFamily.Detect(tree) switch
        {
            GanFamily.StyleGan2 => RenderStyleGan2(tree, req, device, progress, ct),
            GanFamily.StyleGan1 => RenderStyleGan1(tree, req, device, progress, ct),
            _ => throw new InvalidDataException($"'{req.ModelPath}' is neither a StyleGAN v1 checkpoint (g_running, generator.progression.*) nor a StyleGAN2 one (g_ema, convs.*, noises.*); top-level keys: "
                + (tree is OrderedDictionary<string, object?> d ? string.Join(", ", d.Keys.Take(12)) : tree?.GetType().Name ?? "None")),
        };
        using (rendered.Grid)
            return await WriteFilesAsync(req, rendered, ct);
    }

    /// <summary>A rendered grid plus what only its family knows (manifest fields, PNG rounding).</summary>
    private sealed record Rendered(StyleMixingGridResult Grid, string Kind, int Step, MixModelInfo Model, MixRangeInfo Range, long NoiseSeed, string Noise, MixMeanStyleInfo MeanStyle, Func<Tensor, byte[]> Encode);

    private static Rendered RenderStyleGan1(object? tree, MixRequest req, Device device, IProgress<(int Done, int Total)>? progress, CancellationToken ct)
    {
        var checkpoint = StyleGan1Checkpoint.FromTree(tree, req.ModelPath);
        using var g = checkpoint.CreateGenerator(useRunningAverage: true, device: device);
        int detected = StyleMixingGrid.DetectTrainedStep(g);
        int step = req.Size is { } size ? StepOf(size, g.Config.MaxStep) : detected;
        var options = new StyleMixingGridOptions
        {
            RowSeeds = req.RowSeeds,
            ColumnSeeds = req.ColumnSeeds,
            Range = req.Range,
            Step = step,
            Truncation = req.Truncation,
            NoiseSeed = req.NoiseSeed ?? 0,
            MeanStyleSeed = req.MeanStyleSeed,
            BatchSize = req.BatchSize,
        };
        var grid = StyleMixingGrid.Render(g, options, progress, ct);
        int lo = Math.Max(req.Range.Lo, 0), hi = Math.Min(req.Range.Hi, step);
        return new Rendered(grid, MixManifest.KindName, step,
            new MixModelInfo("stylegan1", Path.GetFileName(req.ModelPath), new FileInfo(req.ModelPath).Length, "", g.Config.CodeDim, g.Config.Levels, req.Size is null),
            new MixRangeInfo(req.Range.Name, lo, hi, Enumerable.Range(lo, hi - lo + 1).Select(i => 4 << i).ToArray()),
            options.NoiseSeed, MixManifest.NoiseSeeded, new MixMeanStyleInfo(req.MeanStyleSeed, options.MeanStyleChunks * options.MeanStyleChunkSize),
            ImagePng.Encode);
    }

    private static async Task<(MixManifest Manifest, string ManifestPath)> WriteFilesAsync(MixRequest req, Rendered rendered, CancellationToken ct)
    {
        var grid = rendered.Grid;
        var stem = $"mix-{req.Range.Name}";
        var dir = Path.GetFullPath(req.OutputDirectory);
        var tilesDir = Path.Combine(dir, stem);
        Directory.CreateDirectory(tilesDir);
        int rows = req.RowSeeds.Count, cols = req.ColumnSeeds.Count, s = grid.Resolution, pad = req.Padding;
        MixRect Rect(int gridRow, int gridCol) => new(pad + gridCol * (s + pad), pad + gridRow * (s + pad), s, s);
        string Rel(string path) => Path.GetRelativePath(dir, path).Replace('\\', '/');
        void Save(Tensor image, string path)
        {
            var tmp = path + ".tmp";
            File.WriteAllBytes(tmp, rendered.Encode(image));
            File.Move(tmp, path, overwrite: true);
        }

        // Hashed before the dispose scope opens: a scope must not span an await (another task continuing on this
        // thread would have its tensors registered in it and freed with it).
        var modelSha256 = await Sha256Async(req.ModelPath, ct);
        using var scope = NewDisposeScope();
        // Layout as generate.py's mixing grid: blank corner, header row = column sources, header column = row sources.
        var blank = full(1, 3, s, s, -1f);
        var tiles = new List<Tensor> { blank, grid.ColumnImages };
        for (int r = 0; r < rows; r++)
        {
            tiles.Add(grid.RowImages[r..(r + 1)]);
            tiles.Add(grid.Cells[(r * cols)..((r + 1) * cols)]);
        }
        var gridImage = ImagePng.Tile(cat(tiles, 0), rows + 1, cols + 1, pad);
        var gridPath = Path.Combine(dir, stem + ".png");
        Save(gridImage, gridPath);

        var rowSources = new List<MixSource>();
        for (int r = 0; r < rows; r++)
        {
            var p = Path.Combine(tilesDir, $"row{r}.png");
            Save(grid.RowImages[r], p);
            rowSources.Add(new MixSource(r, req.RowSeeds[r], Rel(p), Rect(r + 1, 0)));
        }
        var colSources = new List<MixSource>();
        for (int c = 0; c < cols; c++)
        {
            var p = Path.Combine(tilesDir, $"col{c}.png");
            Save(grid.ColumnImages[c], p);
            colSources.Add(new MixSource(c, req.ColumnSeeds[c], Rel(p), Rect(0, c + 1)));
        }
        var cells = new List<MixCell>();
        for (int i = 0; i < grid.CellInfo.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var info = grid.CellInfo[i];
            var p = Path.Combine(tilesDir, $"r{info.Row}_c{info.Column}.png");
            Save(grid.Cells[i], p);
            cells.Add(new MixCell(info.Row, info.Column, info.RowSeed, info.ColumnSeed, info.Range, info.RangeLo, info.RangeHi,
                info.Truncation, info.NoiseSeed, Rel(p), Rect(info.Row + 1, info.Column + 1)));
        }

        var manifest = new MixManifest
        {
            Kind = rendered.Kind,
            CreatedUtc = DateTimeOffset.UtcNow,
            Model = rendered.Model with { Sha256 = modelSha256 },
            Step = rendered.Step,
            Resolution = s,
            Range = rendered.Range,
            Truncation = req.Truncation,
            NoiseSeed = rendered.NoiseSeed,
            Noise = rendered.Noise,
            MeanStyle = rendered.MeanStyle,
            Rows = rows,
            Columns = cols,
            Grid = new MixGridImage(Rel(gridPath), (int)gridImage.shape[2], (int)gridImage.shape[1], pad,
                "(rows+1) x (columns+1) tiles: blank corner, first row = column sources, first column = row sources, cell (r, c) at tile (r+1, c+1)"),
            RowSources = rowSources,
            ColumnSources = colSources,
            Cells = cells,
        };
        var manifestPath = Path.Combine(dir, stem + ".json");
        var tmp = manifestPath + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(manifest, MixManifest.Json));
        File.Move(tmp, manifestPath, overwrite: true);
        return (manifest, manifestPath);
    }

    /// <summary>
    /// Uploads a written grid to datasets/&lt;batchId&gt;/ (images first, the manifest last so it marks completion);
    /// the manifest's relative paths stay valid there. Returns the manifest's blob path.
    /// </summary>
    public static async Task<string> PublishAsync(IBlobStore store, string batchId, MixManifest manifest, string manifestPath, CancellationToken ct)
    {
        var dir = Path.GetDirectoryName(manifestPath)!;
        var images = new[] { manifest.Grid.Image }
            .Concat(manifest.RowSources.Select(x => x.Image))
            .Concat(manifest.ColumnSources.Select(x => x.Image))
            .Concat(manifest.Cells.Select(x => x.Image));
        foreach (var rel in images)
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(dir, rel), ct);
            await store.PutBytesAsync(BlobLayout.DatasetItem(batchId, rel), bytes, new BlobPutOptions { ContentType = "image/png" }, ct);
        }
        var blob = BlobLayout.DatasetItem(batchId, Path.GetFileName(manifestPath));
        await store.PutBytesAsync(blob, await File.ReadAllBytesAsync(manifestPath, ct), new BlobPutOptions { ContentType = "application/json" }, ct);
        await Pipeline.Infra.Indexes.GalleryIndex.RecordAsync(store, [blob], ct);
        return blob;
    }

    /// <summary>size = 4 * 2^step, checked against the generator's levels.</summary>
    public static int StepOf(int size, int maxStep)
    {
        int step = (int)Math.Round(Math.Log2(size)) - 2;
        if (size < 4 || (4 << Math.Max(step, 0)) != size || step > maxStep)
            throw new ArgumentException($"--size {size} is not a generator resolution: use a power of two from 4 to {4 << maxStep}");
        return step;
    }

    private static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        await using var fs = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, ct));
    }
}
