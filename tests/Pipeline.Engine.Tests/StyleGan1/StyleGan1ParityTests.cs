using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using Pipeline.Tests;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// Replays every `calls` entry of every fixture directory under $PIPELINE_FIXTURES/stylegan1 against the engine.
/// Widths, code_dim, n_mlp, steps, alphas, noise and tolerances all come from the files; an op this suite does not
/// know fails the case.
/// </summary>
[Trait("Category", "Parity")]
public sealed class StyleGan1ParityTests
{
    private const string Family = "stylegan1";

    public static TheoryData<string> Cases()
    {
        var cases = TestPaths.FixtureCases(Family, "meta.json").ToArray();
        return cases.Length == 0 ? new TheoryData<string>("(no fixtures)") : new TheoryData<string>(cases);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Case(string name)
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir(Family), name);
        Requirement.SkipUnless(Directory.Exists(dir), $"No {Family} fixture cases (folders with meta.json) under {Path.GetDirectoryName(dir)}");
        using var fx = new FixtureCase(dir);
        var calls = fx.Calls;
        if (calls.Length == 0)
        {
            if (fx.Meta.TryGetProperty("layouts", out _)) LayoutChecks.Run(fx);
            else Assert.Fail($"{name}: meta.json has neither 'calls' nor 'layouts'; this suite does not know what to check");
        }
        foreach (var call in calls)
        {
            var op = call.Str("op");
            using var scope = NewDisposeScope();
            Run(fx, op, call);
        }
        if (fx.Failures.Count > 0)
            Assert.Fail($"{name}: {fx.Failures.Count} of {fx.Compared} comparisons failed:\n  " + string.Join("\n  ", fx.Failures));
        Assert.True(fx.Compared > 0, $"{name}: nothing was compared");
    }

    private static void Run(FixtureCase fx, string op, JsonElement call)
    {
        switch (op)
        {
            case "G": using (no_grad()) fx.Check(call.Str("out"), GeneratorCalls.G(fx, call, fx.Generator(call.Str("model")), TagOf(call))); break;
            case "G_styles": using (no_grad()) fx.Check(call.Str("out"), GeneratorCalls.GStyles(fx, call, fx.Generator(call.Str("model")), TagOf(call))); break;
            case "mapping": using (no_grad()) fx.Check(call.Str("out"), fx.Generator(call.Str("model")).Map(fx.In(call.Str("z")), fx.AuxTap(null))); break;
            case "mean_style": using (no_grad()) fx.Check(call.Str("out"), fx.Generator(call.Str("model")).MeanStyle(fx.In(call.Str("z")))); break;
            case "get_mean_style":
                fx.Check(call.Str("out"), fx.Generator(call.Str("model")).GetMeanStyle(fx.In(call.Str("z_chunks")).unbind(0)));
                break;
            case "D": using (no_grad()) GeneratorCalls.D(fx, call); break;
            case "grad": GeneratorCalls.Grad(fx, call); break;
            case "generate_script": using (no_grad()) GenerateScript.Run(fx, call); break;
            case "projector": ProjectorCalls.Run(fx, call); break;
            case "train_iteration": TrainCalls.Run(fx, call); break;
            default:
                if (!OpsCalls.TryRun(fx, op, call))
                    fx.Failures.Add($"unknown op '{op}' in {fx.Name}/meta.json: the parity suite must be taught what it means");
                break;
        }
    }

    /// <summary>The fixture stores intermediates as aux.&lt;last part of the out name&gt;.*.</summary>
    private static string? TagOf(JsonElement call) => call.OptStr("out")?.Split('.')[^1];
}
