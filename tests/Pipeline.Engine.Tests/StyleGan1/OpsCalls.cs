using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// Single-layer fixture calls. The op string is the reference constructor (e.g. "EqualConv2d(4,5,k=3,pad=1)"); widths
/// come from the stored state_dict's shapes and the layer variant from its keys, so other widths work unchanged.
/// </summary>
internal static partial class OpsCalls
{
    public static bool TryRun(FixtureCase fx, string op, JsonElement call)
    {
        var kind = op.Split('(')[0].Trim();
        var sd = call.OptStr("params") is { } p ? StateDicts.Get(fx.Tree(), p) : new OrderedDictionary<string, Tensor>();
        Tensor Input(int i) => fx.In(FirstToken(call.GetProperty("input").ValueKind == JsonValueKind.Array
            ? call.GetProperty("input")[i].GetString()! : call.Str("input")));
        var args = Ints(op);
        nn.Module module;
        Func<Tensor, Tensor> run;
        switch (kind)
        {
            case "PixelNorm":
                { var m = new PixelNorm(); module = m; run = x => m.forward(x); break; }
            case "EqualLinear":
                { var w = sd["linear.weight_orig"].shape; var m = new EqualLinear(w[1], w[0]); module = m; run = x => m.forward(x); break; }
            case "EqualConv2d":
                {
                    var w = sd["conv.weight_orig"].shape;
                    var m = new EqualConv2d(w[1], w[0], w[2], Named(op, "pad") ?? 0); module = m; run = x => m.forward(x); break;
                }
            case "Blur":
                { var m = new Blur(sd["weight"].shape[0]); module = m; run = x => m.forward(x); break; }
            case "FusedUpsample":
                { var w = sd["weight"].shape; var m = new FusedUpsample(w[0], w[1], w[2], Named(op, "pad") ?? 1); module = m; run = x => m.forward(x); break; }
            case "FusedDownsample":
                { var w = sd["weight"].shape; var m = new FusedDownsample(w[1], w[0], w[2], Named(op, "pad") ?? 1); module = m; run = x => m.forward(x); break; }
            case "AdaptiveInstanceNorm":
                {
                    var w = sd["style.linear.weight_orig"].shape;
                    var m = new AdaptiveInstanceNorm(w[0] / 2, w[1]); module = m; run = x => m.forward(x, Input(1)); break;
                }
            case "NoiseInjection":
                { var m = new NoiseInjection(sd["weight_orig"].shape[1]); module = m; run = x => m.forward(x, Input(1)); break; }
            case "ConstantInput":
                { var w = sd["input"].shape; var m = new ConstantInput(w[1], w[2]); module = m; run = x => m.forward(x); break; }
            case "StyledConvBlock":
                {
                    var blockKind = sd.ContainsKey("conv1.input") ? StyledBlockKind.Initial
                        : sd.ContainsKey("conv1.0.weight") ? StyledBlockKind.FusedUpsample : StyledBlockKind.Upsample;
                    long cout = sd["conv2.conv.weight_orig"].shape[0];
                    long cin = blockKind switch
                    {
                        StyledBlockKind.Initial => cout,
                        StyledBlockKind.FusedUpsample => sd["conv1.0.weight"].shape[0],
                        _ => sd["conv1.1.conv.weight_orig"].shape[1],
                    };
                    var m = new StyledConvBlock(cin, cout, sd["adain1.style.linear.weight_orig"].shape[1], blockKind);
                    module = m; run = x => m.Forward(x, Input(1), Input(2)); break;
                }
            case "ConvBlock":
                {
                    var blockKind = sd.ContainsKey("conv2.1.weight") ? ConvBlockKind.FusedDownsample
                        : sd.ContainsKey("conv2.1.conv.weight_orig") ? ConvBlockKind.Downsample : ConvBlockKind.Final;
                    var w1 = sd["conv1.0.conv.weight_orig"].shape;
                    // Reference signature ConvBlock(in, out, kernel, padding, kernel2, padding2, ...).
                    long k2 = args.Length > 4 ? args[4] : w1[2], p2 = args.Length > 5 ? args[5] : args[3];
                    var m = new ConvBlock(w1[1], w1[0], blockKind, w1[2], args[3], k2, p2);
                    module = m; run = x => m.forward(x); break;
                }
            default:
                return false;
        }
        StateDicts.Load(module, sd, strict: true, what: op);
        var outName = call.Str("out");
        using (no_grad()) fx.Check(outName, run(Input(0)), op);

        if (call.OptStr("grad") is { } gradSpec)
        {
            // "out.X = d sum(op(x) * in.R) / dx"
            var gm = GradSpec().Match(gradSpec);
            if (!gm.Success) { fx.Failures.Add($"{op}: unknown grad spec '{gradSpec}'"); return true; }
            var x = Input(0).detach().clone().requires_grad_(true);
            (run(x) * fx.In(gm.Groups[2].Value)).sum().backward();
            fx.Check(gm.Groups[1].Value, x.grad!, op + " gradient");
        }
        return true;
    }

    private static string FirstToken(string s) => s.Split(' ')[0];

    private static long[] Ints(string op)
    {
        var open = op.IndexOf('(', StringComparison.Ordinal);
        var close = op.IndexOf(')', StringComparison.Ordinal);
        if (open < 0 || close < open) return [];
        return op[(open + 1)..close].Split(',')
            .Select(s => long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? (long?)v : null)
            .TakeWhile(v => v is not null).Select(v => v!.Value).ToArray();
    }

    private static long? Named(string op, string name)
    {
        var m = Regex.Match(op, $@"\b{name}=(\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    [GeneratedRegex(@"^(\S+) = d sum\(.*\* (\S+)\) / dx")]
    private static partial Regex GradSpec();
}
