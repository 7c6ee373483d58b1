using Pipeline.Engine;
using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Pipeline.Engine.Council;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Operations;
using Pipeline.Worker.Operations.Inputs;
using Pipeline.Worker.Operations.Translation;
using Pipeline.Imaging;
using Spectre.Console;
using TorchSharp;

namespace Pipeline.Worker.Cli.Council;

/// <summary>
/// `pipeline translate &lt;image-or-folder&gt; --model &lt;checkpoint-prefix&gt; --outputs K`: Council-GAN selfie → anime,
/// K diverse candidates per input, a contact sheet and a results.jsonl recording member and seed per image. Inputs are
/// prepared as translation jobs prepare them (<see cref="SelfieInput"/>: EXIF orientation, face alignment and crop).
/// </summary>
public sealed class TranslateCommand : ICliCommand
{
    /// <summary>Rows drawn on the contact sheet (one per input); the per-image folders hold everything.</summary>
    private const int MaxSheetRows = 64;

    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    public Command Build()
    {
        var input = new Argument<string>("input") { Description = "An image file, or a folder of images (recursive, processed in sorted path order)." };
        var model = new Option<string>("--model") { Description = "Checkpoint prefix <dir>/<8-digit step> (members <dir>/b2a_gen_<i>_<step>.pt), one member file, or a folder. Default: the bundled council.", DefaultValueFactory = _ => BundledModels.Council };
        var outputs = new Option<int>("--outputs") { Description = "K: candidates per input (one z code each).", DefaultValueFactory = _ => 10 };
        var config = new Option<string?>("--config") { Description = "The yaml that ships with the weights (default: config.yaml beside them)." };
        var outDir = new Option<string>("--out") { Description = "Output folder.", DefaultValueFactory = _ => "translate-out" };
        var seed = new Option<long>("--seed") { Description = "Image n uses z seed (seed + n); 2 reproduces the reference's folder test.", DefaultValueFactory = _ => 2 };
        var member = new Option<int?>("--member") { Description = "Use this council member for every image (default: drawn per image from --member-seed)." };
        var memberSeed = new Option<int>("--member-seed") { Description = "Seed of the per-image member draw.", DefaultValueFactory = _ => 0 };
        var mapping = new Option<OutputMapping>("--mapping") { Description = "MinMax (per-image stretch, the folder test) or HalfRange ((v+1)/2, the GUI).", DefaultValueFactory = _ => OutputMapping.MinMax };
        var size = new Option<int?>("--size") { Description = "Image size when no yaml is available (else the yaml's new_size)." };
        var cropFace = new Option<bool>("--crop-face") { Description = "Align and crop the face first (FFHQ-style, Pipeline__Faces__* settings), as translation jobs do by default (TranslationJob.CropFace); --crop-face false translates the whole image.", DefaultValueFactory = _ => true };
        var device = CliDevice.Option();

        var cmd = new Command("translate", "Translate selfies to anime with a Council-GAN council (K diverse outputs per image).");
        cmd.Arguments.Add(input);
        foreach (var o in new Option[] { model, outputs, config, outDir, seed, member, memberSeed, mapping, size, cropFace, device }) cmd.Options.Add(o);
        cmd.SetAction((parse, ct) => Task.FromResult(Run(new Args(
            parse.GetValue(input)!, parse.GetValue(model)!, parse.GetValue(outputs), parse.GetValue(config), parse.GetValue(outDir)!,
            parse.GetValue(seed), parse.GetValue(member), parse.GetValue(memberSeed), parse.GetValue(mapping), parse.GetValue(size),
            parse.GetValue(cropFace), parse.GetValue(device)!), ct)));
        return cmd;
    }

    private sealed record Args(string Input, string Model, int Outputs, string? Config, string OutDir, long Seed, int? Member, int MemberSeed, OutputMapping Mapping, int? Size, bool CropFace, string Device);

    private sealed record ResultLine(string Source, string Folder, TranslationRecord Record, string MemberCheckpoint, string[] Outputs);

    private static int Run(Args a, CancellationToken ct)
    {
        CouncilTranslator council;
        IReadOnlyList<string> files;
        try
        {
            if (a.Outputs < 1) throw new ArgumentException("--outputs must be at least 1");
            files = CouncilImageIO.Collect(a.Input);
            var dev = Devices.Parse(a.Device);
            council = AnsiConsole.Status().Start($"Loading council from {a.Model}…",
                _ => CouncilTranslator.Load(a.Model, new CouncilLoadOptions { ConfigPath = a.Config, Device = dev, Size = a.Size }));
        }
        catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException or CouncilConfigException or UnauthorizedAccessException)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
            return 2;
        }

        // Settings (Pipeline__Faces__*) bound as the worker binds them, once.
        using var host = WorkerHost.CreateCliHost();
        var faces = host.Services.GetRequiredService<FacePreparation>();
        using (council)
        {
            AnsiConsole.MarkupLineInterpolated($"Council of [bold]{council.Members.Count}[/] ({council.Size}px, style_dim {council.Gen.StyleDim}) on {council.Device.type}; {files.Count} image(s) × {a.Outputs} outputs → {Path.GetFullPath(a.OutDir)}");
            Directory.CreateDirectory(a.OutDir);
            var options = new TranslateOptions { NumStyles = a.Outputs, SeedBase = a.Seed, Member = a.Member, MemberSeed = a.MemberSeed, Mapping = a.Mapping };
            var sheetRows = new List<IReadOnlyList<RgbImage>>();
            var failures = new List<string>();
            using var results = new StreamWriter(Path.Combine(a.OutDir, "results.jsonl"), append: false);
            CliProgress.Run("translating", files.Count, task =>
                {
                    for (int n = 0; n < files.Count && !ct.IsCancellationRequested; n++, task.Increment(1))
                    {
                        var file = files[n];
                        try
                        {
                            var prepared = SelfieInput.Prepare(File.ReadAllBytes(file), a.CropFace, faces, InputImages.LocalFiles);
                            using var scope = torch.NewDisposeScope();
                            using var t = council.Translate(prepared.Image, n, options);
                            var folder = Path.Combine(a.OutDir, $"{n:D4}_{Path.GetFileNameWithoutExtension(file)}");
                            Directory.CreateDirectory(folder);
                            CouncilImageIO.WritePng(t.Resized, Path.Combine(folder, "input.png"));
                            var outs = t.Images();
                            var names = new string[outs.Length];
                            for (int j = 0; j < outs.Length; j++)
                            {
                                names[j] = Path.Combine(folder, $"out_{j:D2}.png");
                                CouncilImageIO.WritePng(outs[j], names[j]);
                            }
                            if (sheetRows.Count < MaxSheetRows) sheetRows.Add([t.Resized, .. outs]);
                            var memberFile = council.MemberFiles.Count > t.Record.Member ? council.MemberFiles[t.Record.Member] : "";
                            File.WriteAllBytes(Path.Combine(folder, "face.json"), FacePreparation.ToJson(prepared));
                            results.WriteLine(JsonSerializer.Serialize(new ResultLine(file, folder, t.Record, memberFile, names), Json));
                        }
                        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or UnusableInputException)
                        {
                            failures.Add($"{file}: {e.Message}" + (e is UnusableInputException && a.CropFace ? " (--crop-face false translates the whole image)" : ""));
                        }
                    }
                });
            if (sheetRows.Count > 0)
            {
                var sheet = Path.Combine(a.OutDir, "contact_sheet.png");
                CouncilImageIO.WritePng(CouncilContactSheet.Render(sheetRows), sheet);
                AnsiConsole.MarkupLineInterpolated($"contact sheet: {sheet} ({sheetRows.Count} row(s): input, then {a.Outputs} candidates)");
            }
            foreach (var f in failures) AnsiConsole.MarkupLineInterpolated($"[red]failed:[/] {f}");
            if (ct.IsCancellationRequested) AnsiConsole.MarkupLine("[yellow]cancelled[/]");
            AnsiConsole.MarkupLineInterpolated($"{files.Count - failures.Count} translated, {failures.Count} failed; records in {Path.Combine(a.OutDir, "results.jsonl")}");
            return failures.Count == 0 && !ct.IsCancellationRequested ? 0 : 1;
        }
    }
}
