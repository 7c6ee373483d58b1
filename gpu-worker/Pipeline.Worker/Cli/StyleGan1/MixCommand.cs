using Pipeline.Engine;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using System.CommandLine;
using System.Globalization;
using Pipeline.Engine.StyleGan1;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Operations.Mixing;
using Spectre.Console;

namespace Pipeline.Worker.Cli.StyleGan1;

/// <summary>`pipeline mix`: a StyleGAN v1 or StyleGAN2 style-mixing grid (rows = source A, columns = source B) plus its manifest.</summary>
public sealed class MixCommand : ICliCommand
{
    public Command Build()
    {
        var model = new Option<FileInfo>("--model") { Description = "StyleGAN v1 checkpoint (g_running) or StyleGAN2 checkpoint (g_ema); the family is detected from the keys. train.py dicts or bare generator state_dicts, zip or legacy torch.save. Default: the bundled StyleGAN v1 model (synthetic paintings)", DefaultValueFactory = _ => new FileInfo(BundledModels.StyleGan1) };
        var rows = new Option<int>("--rows") { Description = "Row sources (A: all levels outside the range)", DefaultValueFactory = _ => 4 };
        var cols = new Option<int>("--cols") { Description = "Column sources (B: the levels inside the range)", DefaultValueFactory = _ => 4 };
        var range = new Option<string>("--range") { Description = "Levels taken from the column source: coarse (4-8 px), middle (16-32 px), fine (64 px and up) or lo-hi", DefaultValueFactory = _ => "coarse" };
        var size = new Option<int?>("--size") { Description = "Output resolution (power of two). Default: v1 detects it from the weights (the last level with trained noise); a StyleGAN2 generator has one size" };
        var seed = new Option<long>("--seed") { Description = "First seed: rows use seed.., columns continue after them", DefaultValueFactory = _ => 0 };
        var rowSeeds = new Option<string?>("--row-seeds") { Description = "Explicit comma-separated row seeds (overrides --rows/--seed)" };
        var colSeeds = new Option<string?>("--col-seeds") { Description = "Explicit comma-separated column seeds (overrides --cols/--seed)" };
        var truncation = new Option<double>("--truncation") { Description = "Truncation psi towards the mean style (1 = off)", DefaultValueFactory = _ => 0.7 };
        var noiseSeed = new Option<long?>("--noise-seed") { Description = "StyleGAN v1: seed of the noise maps shared by all images (default 0). StyleGAN2 uses the checkpoint's stored noise buffers" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder for mix-<range>.png, mix-<range>.json and mix-<range>/*.png", DefaultValueFactory = _ => new DirectoryInfo("mix") };
        var batch = new Option<int>("--batch") { Description = "Images per generator call", DefaultValueFactory = _ => 16 };
        var device = CliDevice.Option();
        var publish = new Option<string?>("--publish") { Description = "Also upload the grid, images and manifest to datasets/<batchId>/ of the configured storage (Pipeline__Storage__Kind/Root/ServiceUri), where the gallery reads them" };

        var cmd = new Command("mix", "Render a StyleGAN v1 or StyleGAN2 style-mixing grid and a JSON manifest of every cell (seeds, truncation, range).")
        {
            model, rows, cols, range, size, seed, rowSeeds, colSeeds, truncation, noiseSeed, output, batch, device, publish,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            try
            {
                long first = parse.GetValue(seed);
                int nRows = parse.GetValue(rows), nCols = parse.GetValue(cols);
                if (nRows < 1 || nCols < 1) throw new ArgumentException("--rows and --cols must be at least 1");
                var request = new MixRequest
                {
                    ModelPath = parse.GetValue(model)!.FullName,
                    OutputDirectory = parse.GetValue(output)!.FullName,
                    RowSeeds = Seeds(parse.GetValue(rowSeeds), first, nRows),
                    ColumnSeeds = Seeds(parse.GetValue(colSeeds), first + nRows, nCols),
                    Range = MixingRange.Parse(parse.GetValue(range)!),
                    Size = parse.GetValue(size),
                    Truncation = parse.GetValue(truncation),
                    NoiseSeed = parse.GetValue(noiseSeed),
                    BatchSize = parse.GetValue(batch),
                    Device = parse.GetValue(device)!,
                };
                if (!File.Exists(request.ModelPath))
                    throw new FileNotFoundException($"checkpoint not found: {request.ModelPath}", request.ModelPath);

                MixManifest? manifest = null;
                string manifestPath = "";
                await CliProgress.RunAsync(async add =>
                {
                    var task = add($"style mixing ({request.Range.Name})", request.RowSeeds.Count + request.ColumnSeeds.Count + request.RowSeeds.Count * request.ColumnSeeds.Count);
                    (manifest, manifestPath) = await Task.Run(() => MixGridRenderer.WriteAsync(request, new Inline(p => task.Set(p.Done)), ct), ct);
                });
                AnsiConsole.MarkupLineInterpolated($"[green]wrote[/] {manifest!.Grid.Image} ({manifest.Resolution} px cells, {manifest.Cells.Count} mixes) and {manifestPath}");
                if (manifest.Model.TrainedStepDetected)
                    AnsiConsole.MarkupLineInterpolated($"size {manifest.Resolution} px was detected from the weights (last level with trained noise); pass --size to choose another");
                if (parse.GetValue(publish) is { } batchId)
                {
                    // The store the worker would use: the same configuration (Pipeline__Storage__*, appsettings.json), bound once.
                    using var host = WorkerHost.CreateCliHost();
                    var store = host.Services.GetRequiredService<IBlobStore>();
                    var blob = await MixGridPublisher.PublishAsync(store, batchId, manifest, manifestPath, ct);
                    AnsiConsole.MarkupLineInterpolated($"[green]published[/] {blob} ({store.GetType().Name})");
                }
                return 0;
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or ArgumentException or FormatException or InvalidOperationException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    private static long[] Seeds(string? list, long first, int count) =>
        string.IsNullOrWhiteSpace(list)
            ? Enumerable.Range(0, count).Select(i => first + i).ToArray()
            : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"'{s}' is not an integer seed")).ToArray();

    /// <summary>Reports synchronously on the rendering thread (Progress&lt;T&gt; would post and lag behind).</summary>
    private sealed class Inline(Action<(int Done, int Total)> report) : IProgress<(int Done, int Total)>
    {
        public void Report((int Done, int Total) value) => report(value);
    }
}
