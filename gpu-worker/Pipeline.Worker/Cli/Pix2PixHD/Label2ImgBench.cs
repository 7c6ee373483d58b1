using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.Pix2PixHD;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Pix2PixHD;

/// <summary>
/// `pipeline bench label2img`: images/s of label map -> image (input encoding + G), the reference's way (batch 1,
/// as test.py runs) against batched inference, measured in the same run on the same device.
/// </summary>
public sealed class Label2ImgBench : IBenchTarget
{
    public Command Build()
    {
        var model = new Option<DirectoryInfo?>("--model") { Description = "Model folder (latest_net_G.pth). Default: random weights of --preset." };
        var preset = new Option<string>("--preset") { Description = "Architecture without --model: 512p (global, ngf 64), 1024p (local, ngf 32) or tiny.", DefaultValueFactory = _ => "512p" };
        var height = new Option<int>("--height") { Description = "Label map height.", DefaultValueFactory = _ => 256 };
        var width = new Option<int>("--width") { Description = "Label map width.", DefaultValueFactory = _ => 512 };
        var batch = new Option<int>("--batch") { Description = "Batch of the batched run.", DefaultValueFactory = _ => 4 };
        var repeats = new Option<int>("--repeats") { Description = "Timed repeats (median reported).", DefaultValueFactory = _ => 5 };
        var device = CliDevice.Option();
        var cmd = new Command("label2img", "pix2pixHD label map -> image throughput: batch 1 (reference test.py) vs batched.")
        {
            model, preset, height, width, batch, repeats, device,
        };
        cmd.SetAction(parse =>
        {
            try
            {
                var dev = Devices.Parse(parse.GetValue(device));
                var dir = parse.GetValue(model);
                using var translator = dir is not null ? Translator.Load(dir.FullName, device: dev) : RandomModel(parse.GetValue(preset)!, dev);
                int b = Math.Max(1, parse.GetValue(batch)), h = parse.GetValue(height), w = parse.GetValue(width), n = Math.Max(1, parse.GetValue(repeats));
                AnsiConsole.MarkupLine($"[grey]{Markup.Escape(translator.Generator.ToString())} on {dev.type}, {w}x{h}, label_nc {translator.Options.LabelNc}[/]");
                var table = new Table().AddColumn("run").AddColumn("batch").AddColumn("images/s").AddColumn("ratio");
                double baseline = Measure(translator, 1, h, w, n, dev);
                table.AddRow("reference-style (test.py, batch 1)", "1", $"{baseline:F2}", "1.00");
                if (b > 1)
                {
                    double batched = Measure(translator, b, h, w, n, dev);
                    table.AddRow("batched", b.ToString(), $"{batched:F2}", $"{batched / baseline:F2}");
                }
                AnsiConsole.Write(table);
                return 0;
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or InvalidDataException or NotSupportedException or ArgumentException)
            {
                AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
                return 2;
            }
        });
        return cmd;
    }

    private static Translator RandomModel(string preset, Device dev)
    {
        var (o, g) = preset switch
        {
            "512p" => (new Pix2PixHDOptions(), (nn.Module<Tensor, Tensor>)new GlobalGenerator(36, 3, 64, 4, 9, NormKind.Instance)),
            "1024p" => (new Pix2PixHDOptions { NetG = "local", Ngf = 32 }, new LocalEnhancer(36, 3, 32, 4, 9, 1, 3, NormKind.Instance)),
            "tiny" => (new Pix2PixHDOptions { LabelNc = 8, Ngf = 8, NDownsampleGlobal = 3, NBlocksGlobal = 2 }, new GlobalGenerator(9, 3, 8, 3, 2, NormKind.Instance)),
            _ => throw new ArgumentException($"preset '{preset}' is not 512p, 1024p or tiny"),
        };
        return new Translator(o, g, GeneratorConfig.From(o), null, null, dev);
    }

    /// <summary>Median images/s over <paramref name="repeats"/> timed batches after two warm-up batches.</summary>
    private static double Measure(Translator t, int batch, int h, int w, int repeats, Device dev)
    {
        using var scope = NewDisposeScope();
        var label = randint(0, t.Options.LabelNc, [batch, 1, h, w], ScalarType.Float32).to(dev);
        var inst = label.clone();
        var median = BenchTiming.Median($"batch {batch}", () =>
        {
            using var iter = NewDisposeScope();
            var y = t.Generate(label, inst);
            // The host copy is part of a job (the image is written), and it synchronises the device.
            _ = y.to(ScalarType.Float32).cpu();
        }, warmup: 2, repeats: repeats);
        return batch / median.TotalSeconds;
    }
}
