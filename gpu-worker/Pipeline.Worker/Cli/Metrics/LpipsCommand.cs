using Pipeline.Engine;
using System.CommandLine;
using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Fid;
using TorchSharp;
using Pipeline.Worker.Operations.Metrics;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Metrics;

/// <summary>`pipeline lpips a.png b.png`: LPIPS v0.1 (VGG) distance of two images of the same size.</summary>
public sealed class LpipsCommand : ICliCommand
{
    public Command Build()
    {
        var a = new Argument<string>("a") { Description = "First image." };
        var b = new Argument<string>("b") { Description = "Second image (same size)." };
        var device = CliDevice.Option();
        var models = MetricsCli.ModelsDirOption();
        var cmd = new Command("lpips", "LPIPS v0.1 (VGG16 trunk, official linear heads) between two images.") { a, b, device, models };
        cmd.SetAction(async (parse, ct) =>
        {
            try
            {
                var (lpips, _) = await MetricsCli.Store(parse.GetValue(models)).LoadLpipsVggAsync(ct);
                using var net = lpips;
                var dev = Devices.Parse(parse.GetValue(device)!);
                net.to(dev);
                using var scope = NewDisposeScope();
                using var g = no_grad();
                var x = FidPreprocess.ToTensor(MetricImages.LoadU8(parse.GetValue(a)!)).to(dev);
                var y = FidPreprocess.ToTensor(MetricImages.LoadU8(parse.GetValue(b)!)).to(dev);
                if (!x.shape.SequenceEqual(y.shape))
                    throw new ArgumentException($"images differ in size: {x.shape[3]}x{x.shape[2]} vs {y.shape[3]}x{y.shape[2]}");
                // Images are read in [0, 1]: the reference's normalize=True maps them to [-1, 1].
                var d = net.Compute(x, y, normalize: true).item<float>();
                MetricsCli.Output(parse).WriteLine($"LPIPS: {d:R}");
                return 0;
            }
            catch (WeightsMissingException e)
            {
                return MetricsCli.Skipped(e);
            }
        });
        return cmd;
    }
}
