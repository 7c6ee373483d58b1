using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.Council;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Council;

/// <summary>
/// `pipeline bench translate`: images/s of Council generator translation at a size and batch, against a baseline
/// measured in the same run — the reference folder test's way of working (one image per forward pass).
/// </summary>
public sealed class TranslateBenchTarget : IBenchTarget
{
    public Command Build()
    {
        var size = new Option<int>("--size") { Description = "Image size (multiple of 2^n_downsample).", DefaultValueFactory = _ => 256 };
        var batch = new Option<int>("--batch") { Description = "Images per forward pass.", DefaultValueFactory = _ => 8 };
        var device = CliDevice.Option();
        var repeats = new Option<int>("--repeats") { Description = "Timed repeats (the median is reported).", DefaultValueFactory = _ => 5 };
        var model = new Option<string?>("--model") { Description = "A checkpoint (prefix/file/folder); default: the anime2face architecture with random weights." };
        var config = new Option<string?>("--config") { Description = "The yaml of --model." };

        var cmd = new Command("translate", "Council-GAN translation throughput (images/s) vs one-image-per-pass baseline.");
        foreach (var o in new Option[] { size, batch, device, repeats, model, config }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            try
            {
                return Run(parse.GetValue(size), parse.GetValue(batch), parse.GetValue(device)!, parse.GetValue(repeats), parse.GetValue(model), parse.GetValue(config));
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidDataException or CouncilConfigException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]error:[/] {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    private static int Run(int size, int batch, string deviceName, int repeats, string? modelPath, string? configPath)
    {
        if (batch < 1 || repeats < 1) throw new ArgumentException("--batch and --repeats must be at least 1");
        var dev = Devices.Parse(deviceName);
        using var council = modelPath is null ? null : CouncilTranslator.Load(modelPath, new CouncilLoadOptions { ConfigPath = configPath, Size = size, Device = dev });
        using var random = council is null ? new CouncilGenerator(new GenOptions()) : null;
        var g = council?.Members[0] ?? random!;
        g.eval();
        g.to(dev);
        int unit = 1 << g.Options.NDownsample;
        if (size % unit != 0) throw new ArgumentException($"--size {size} must be a multiple of {unit}");

        using var _ = no_grad();
        using var x = (rand(batch, g.Options.InputDim, size, size, device: dev) * 2 - 1);
        using var z = randn(batch, g.Options.StyleDim, 1, 1, device: dev);

        double Sync(Tensor t) => t.sum().cpu().item<float>();
        void Batched()
        {
            using var scope = NewDisposeScope();
            Sync(g.forward(x, z));
        }
        void OneByOne()
        {
            using var scope = NewDisposeScope();
            Tensor last = zeros(1);
            for (int i = 0; i < batch; i++) last = g.forward(x.narrow(0, i, 1), z.narrow(0, i, 1));
            Sync(last);
        }

        AnsiConsole.MarkupLineInterpolated($"Council generator {g.Options.Dim}/{g.Options.NRes} res/{g.Options.NDownsample} down, {size}px, batch {batch}, {dev.type}");
        double ours = BenchTiming.Median($"batched x{batch}", Batched, warmup: 1, repeats).TotalSeconds;
        double base1 = BenchTiming.Median("one image per pass", OneByOne, warmup: 1, repeats).TotalSeconds;
        double oursIps = batch / ours, baseIps = batch / base1;

        var table = new Table().AddColumn("mode").AddColumn("median s/pass").AddColumn("images/s").AddColumn("ratio");
        table.AddRow("one image per pass (reference folder test)", $"{base1:F4}", $"{baseIps:F1}", "1.00");
        table.AddRow($"batched ×{batch}", $"{ours:F4}", $"{oursIps:F1}", $"{oursIps / baseIps:F2}");
        AnsiConsole.Write(table);
        return 0;
    }
}
