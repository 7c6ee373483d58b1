using System.Globalization;
using Pipeline.Engine;
using System.CommandLine;
using System.Diagnostics;
using Pipeline.Engine.Pix2PixHD;
using Pipeline.Worker.Operations.Label2Img;
using Pipeline.Imaging.Labels;
using Spectre.Console;
using TorchSharp;

namespace Pipeline.Worker.Cli.Pix2PixHD;

/// <summary>
/// `pipeline label2img labels.png [--instances inst.png] --model DIR`: pix2pixHD test.py for one label map, written as PNG.
/// </summary>
public sealed class Label2ImgCommand : ICliCommand
{
    public Command Build()
    {
        var labels = new Argument<FileInfo>("labels") { Description = "Label map: single-channel 8-bit PNG of class ids (0..label_nc-1)." };
        var instances = new Option<FileInfo?>("--instances") { Description = "Instance map PNG (16-bit ids, Cityscapes *_instanceIds.png style). Default: the label map." };
        var model = new Option<DirectoryInfo>("--model")
        {
            Description = "Folder with latest_net_G.pth (and latest_net_E.pth, features_clustered_NNN.npy, opt.txt when present). Default: the bundled models/pix2pixhd (synthetic landscapes, classes 0-5: sky, sun, mountain, water, grass, tree).",
            DefaultValueFactory = _ => new DirectoryInfo(BundledModels.Pix2PixHD),
        };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Output image (.png, or .jpg for test.py-like JPEG q75). Default: <labels>_synthesized_image.png." };
        var photo = new Option<FileInfo?>("--photo") { Description = "Real photo to encode styles from (feature models; implies --use-encoded-image)." };
        var seed = new Option<int?>("--seed") { Description = "Seed for style (cluster) choices and random crops, to regenerate the same image." };
        var which = new Option<string>("--which-epoch") { Description = "Checkpoint prefix: <which>_net_G.pth.", DefaultValueFactory = _ => "latest" };
        var labelNc = new Option<int?>("--label-nc") { Description = "Number of classes (default: opt.txt, else inferred from the generator)." };
        var noInstance = new Option<bool>("--no-instance") { Description = "The model was trained without instance maps (no edge channel)." };
        var resize = new Option<string?>("--resize-or-crop") { Description = "scale_width | none | resize_and_crop | crop | scale_width_and_crop (default: opt.txt or scale_width)." };
        var loadSize = new Option<int?>("--load-size") { Description = "Target width for scale_width / side for resize (reference loadSize)." };
        var fineSize = new Option<int?>("--fine-size") { Description = "Crop side for the crop modes (reference fineSize)." };
        var device = CliDevice.Option();
        var style = new Option<string[]>("--style")
        {
            Description = "Feature models: pick cluster INDEX for an instance id or a whole class, as ID=INDEX (repeatable; e.g. --style 26001=3 --style 21=0). Others are drawn from --seed.",
            AllowMultipleArgumentsPerToken = true,
        };
        var cmd = new Command("label2img", "Translate a semantic label map into a photo with a pix2pixHD checkpoint.")
        {
            labels, instances, model, output, photo, seed, which, labelNc, noInstance, resize, loadSize, fineSize, device, style,
        };
        cmd.SetAction(parse =>
        {
            try
            {
                var labelFile = parse.GetValue(labels)!;
                var dir = parse.GetValue(model)!;
                var dev = Devices.Parse(parse.GetValue(device));
                var result = AnsiConsole.Status().Start("Loading model…", ctx =>
                {
                    var overrides = new TranslatorOverrides(parse.GetValue(labelNc), parse.GetValue(noInstance) ? true : null,
                        parse.GetValue(resize), parse.GetValue(loadSize), parse.GetValue(fineSize));
                    var sw = Stopwatch.StartNew();
                    using var translator = Translator.Load(dir.FullName, null, parse.GetValue(which)!, dev, overrides);
                    AnsiConsole.MarkupLine($"[grey]model:[/] {Markup.Escape(Describe(translator.Generator))} on {dev.type} ({sw.ElapsedMilliseconds} ms)");
                    ctx.Status("Validating maps…");
                    var instFile = parse.GetValue(instances);
                    // The maps as a label2img job reads them.
                    var (map, inst, info) = Label2ImgInput.Read(File.ReadAllBytes(labelFile.FullName),
                        instFile is null ? null : File.ReadAllBytes(instFile.FullName), translator.Options.LabelNc);
                    var photoFile = parse.GetValue(photo);
                    ctx.Status("Translating…");
                    sw.Restart();
                    var r = translator.Translate(new Label2ImageRequest(map)
                    {
                        Instances = inst,
                        Photo = photoFile is null ? null : ImageFiles.ReadPhoto(photoFile.FullName),
                        UseEncodedImage = photoFile is not null,
                        Seed = parse.GetValue(seed),
                        Chooser = StyleChooser(parse.GetValue(style), parse.GetValue(seed)),
                    });
                    AnsiConsole.MarkupLine($"[grey]label map:[/] {info.Width}x{info.Height}, {info.DistinctIds} classes used; generated {r.Image.shape[1]}x{r.Image.shape[0]} in {sw.ElapsedMilliseconds} ms");
                    if (r.Image.shape[1] != info.Width || r.Image.shape[0] != info.Height)
                        AnsiConsole.MarkupLine(Markup.Escape(ResizeNote(translator.Options, info.Width, info.Height, (int)r.Image.shape[1], (int)r.Image.shape[0])));
                    return r;
                });
                using (result)
                {
                    var outPath = parse.GetValue(output)?.FullName
                                  ?? Path.Combine(labelFile.DirectoryName ?? ".", Path.GetFileNameWithoutExtension(labelFile.Name) + "_synthesized_image.png");
                    ImageFiles.WriteImage(result.Image, outPath);
                    AnsiConsole.MarkupLine($"[green]wrote[/] {Markup.Escape(outPath)}");
                }
                return 0;
            }
            catch (InvalidLabelMapException e)
            {
                AnsiConsole.MarkupLine($"[red]label map rejected ({e.Reason}):[/] {Markup.Escape(e.Message)}");
                return 3;
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or NotSupportedException or ArgumentException)
            {
                AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
                return 2;
            }
        });
        return cmd;
    }

    /// <summary>
    /// Chooser honouring `ID=INDEX` picks (instance id first, then its class); unlisted instances draw from the seed.
    /// An index beyond the class's cluster count is an error naming the count.
    /// </summary>
    internal static ClusterChooser? StyleChooser(string[]? picks, int? seed)
    {
        if (picks is null || picks.Length == 0) return null;
        var map = new Dictionary<long, int>();
        foreach (var p in picks)
        {
            var parts = p.Split('=', 2);
            if (parts.Length != 2 || !long.TryParse(parts[0], out var id) || !int.TryParse(parts[1], out var index) || index < 0)
                throw new ArgumentException($"--style '{p}' is not ID=INDEX (an instance id or class label, and a cluster index >= 0)");
            map[id] = index;
        }
        var rng = seed is int s ? new Random(s) : new Random();
        return (id, label, k) =>
        {
            int pick = map.TryGetValue(id, out var i) ? i : map.TryGetValue(label, out var j) ? j : rng.Next(k);
            if (pick >= k) throw new ArgumentException($"--style asks for cluster {pick} of instance {id}, but class {label} has only {k} clusters (0..{k - 1})");
            return pick;
        };
    }

    /// <summary>"global generator, 64 filters, 4 downsamplings, 9 residual blocks, instance norm, 36 -> 3 channels".</summary>
    internal static string Describe(GeneratorConfig g) => string.Create(CultureInfo.InvariantCulture,
        $"{(g.Local ? $"local enhancer ({g.NLocalEnhancers} x {g.NBlocksLocal} blocks) over a " : "")}global generator, {g.Ngf} filters, {g.NDownsample} downsamplings, {g.NBlocks} residual blocks, {g.Norm.ToString().ToLowerInvariant()} norm, {g.InputNc} -> {g.OutputNc} channels");

    /// <summary>Says why the output size differs from the label map's, as the reference's preprocessing decides it.</summary>
    internal static string ResizeNote(Pix2PixHDOptions o, int w, int h, int outW, int outH) => o.ResizeOrCrop switch
    {
        "none" => $"note: {w}x{h} rounded to {outW}x{outH}, a multiple of the generator's {GeneratorConfig.From(o).SizeBase} px (resize_or_crop none)",
        var mode => $"note: the label map was rescaled from {w}x{h} to {outW}x{outH} as the model was trained (resize_or_crop {mode}, loadSize {o.LoadSize}); pass --resize-or-crop none to keep its size (rounded to a multiple of {GeneratorConfig.From(o).SizeBase} px)",
    };

}

