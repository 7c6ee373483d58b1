using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>Fixture call kinds G, G_styles, D and grad (spec section 13 "calls").</summary>
internal static class GeneratorCalls
{
    public static Tensor G(FixtureCase fx, JsonElement call, StyledGenerator g, string? tag, IReadOnlyList<Tensor>? inputs = null, IReadOnlyList<Tensor>? noise = null)
    {
        var z = inputs ?? call.Strs("input").Select(fx.In).ToArray();
        var meanName = call.TryGetProperty("mean_style", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
        var options = new StyleGan1ForwardOptions
        {
            Step = call.Int("step"),
            Alpha = call.Dbl("alpha", -1),
            Noise = noise ?? call.Strs("noise").Select(fx.In).ToArray(),
            MeanStyle = meanName is null ? null : fx.In(meanName),
            StyleWeight = call.Dbl("style_weight", 0),
            MixingRange = call.Range(),
            InjectIndex = InjectIndex(call, z.Count),
        };
        if (tag is null) return g.Forward(z, options);
        // Route through the synthesis network with the tap so recorded intermediates are compared too.
        var styles = z.Select(zi => g.Map(zi)).Select(w => options.MeanStyle is { } ms ? StyledGenerator.Truncate(w, ms, options.StyleWeight) : w).ToArray();
        return g.Synthesis.Forward(styles, options.Noise, options.Step, options.Alpha, options.MixingRange, options.InjectIndex, tap: fx.AuxTap(tag));
    }

    public static Tensor GStyles(FixtureCase fx, JsonElement call, StyledGenerator g, string? tag, IReadOnlyList<Tensor>? styles = null, IReadOnlyList<Tensor>? noise = null)
    {
        var w = styles ?? call.Strs("styles").Select(fx.In).ToArray();
        return g.Synthesis.Forward(w, noise ?? call.Strs("noise").Select(fx.In).ToArray(), call.Int("step"), call.Dbl("alpha", -1),
            call.Range(), InjectIndex(call, w.Count), tap: tag is null ? null : fx.AuxTap(tag));
    }

    public static void D(FixtureCase fx, JsonElement call)
    {
        var d = fx.Checkpoint().CreateDiscriminator();
        if (call.TryGetProperty("from_rgb_activate", out var act) && act.GetBoolean() != d.Config.FromRgbActivate)
            fx.Failures.Add($"{call.Str("out")}: from_rgb_activate detected from the keys is {d.Config.FromRgbActivate}, meta.json says {act.GetBoolean()}");
        var score = d.Score(fx.In(call.Str("input")), call.Int("step"), call.Dbl("alpha", -1), fx.AuxTap(call.Str("out").Split('.')[^1]));
        fx.Check(call.Str("out"), score);
    }

    /// <summary>Forward, scalar sum(out * R), backward; compares the loss, input gradients and parameter gradients.</summary>
    public static void Grad(FixtureCase fx, JsonElement call)
    {
        var fwd = call.GetProperty("forward");
        var scalar = call.Str("scalar");
        var rName = System.Text.RegularExpressions.Regex.Match(scalar, @"^sum\(G_out \* (\S+)\)$");
        if (!rName.Success) { fx.Failures.Add($"grad: unknown scalar '{scalar}'"); return; }
        var g = fx.Generator(fwd.Str("model"));
        var leaves = new Dictionary<string, Tensor>();
        Tensor Leaf(string n) => leaves.TryGetValue(n, out var t) ? t : leaves[n] = fx.In(n).detach().clone().requires_grad_(true);
        var noise = fwd.Strs("noise").Select(Leaf).ToArray();
        var fop = fwd.Str("op");
        Tensor output = fop switch
        {
            "G" => G(fx, fwd, g, null, fwd.Strs("input").Select(Leaf).ToArray(), noise),
            "G_styles" => GStyles(fx, fwd, g, null, fwd.Strs("styles").Select(Leaf).ToArray(), noise),
            _ => throw new InvalidDataException($"grad: unknown forward op '{fop}'"),
        };
        var loss = (output * fx.In(rName.Groups[1].Value)).sum();
        fx.Check(call.Str("out_loss"), loss.reshape(1));
        loss.backward();
        foreach (var wrt in call.GetProperty("wrt").EnumerateObject())
        {
            var grad = Leaf(wrt.Name).grad;
            if (grad is null) fx.Failures.Add($"{wrt.Value.GetString()}: no gradient reached {wrt.Name}");
            else fx.Check(wrt.Value.GetString()!, grad);
        }
        if (call.OptStr("params") is { } p)
        {
            var prefix = p[..p.IndexOf('<', StringComparison.Ordinal)];
            var expected = fx.Io.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToHashSet();
            foreach (var (key, param) in g.named_parameters())
            {
                var name = prefix + key;
                var grad = param.grad;
                bool has = grad is not null;
                if (has && !expected.Contains(name)) fx.Failures.Add($"{key}: got a gradient the reference does not have");
                else if (!has && expected.Contains(name)) fx.Failures.Add($"{key}: no gradient, the reference has one");
                else if (has) fx.Check(name, grad!);
                expected.Remove(name);
            }
            foreach (var left in expected) fx.Failures.Add($"{left}: not a parameter of the model");
        }
    }

    private static int[]? InjectIndex(JsonElement call, int nStyles)
    {
        var inject = call.OptInts("inject_index");
        if (inject is null && nStyles >= 2 && call.Range() is null)
            throw new InvalidDataException($"{call.OptStr("out")}: random crossover without a recorded inject_index cannot be replayed");
        return inject;
    }
}
