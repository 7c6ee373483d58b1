using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Engine.IO;
using Pipeline.Engine.Metrics.Fid;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Metrics;

/// <summary>Checks of fid_preprocess, fid_inception_blocks and fid_inception_full.</summary>
internal static partial class FidChecks
{
    private static double Rtol(JsonElement c) => c.GetProperty("rtol").GetDouble();
    private static double Atol(JsonElement c) => c.GetProperty("atol").GetDouble();
    private static string[] Inputs(JsonElement c) => c.GetProperty("inputs").EnumerateArray().Select(e => e.GetString()!).ToArray();
    private static string[] ExpectedNames(JsonElement c) => c.GetProperty("expected").EnumerateArray().Select(e => e.GetString()!).ToArray();
    private static string Name(JsonElement c) => c.GetProperty("name").GetString()!;

    [GeneratedRegex(@"_sub(\d+)$")]
    private static partial Regex SubsampleSuffix();

    public static void Preprocess(MetricsFixture fx, JsonElement c)
    {
        using var scope = NewDisposeScope();
        string name = Name(c);
        var x = FidPreprocess.ToTensor(fx.T(Inputs(c).Single()));
        var expectedName = ExpectedNames(c).Single();
        Tensor actual;
        if (name.EndsWith("_pytorch_fid_f64", StringComparison.Ordinal))
            actual = FidPreprocess.PytorchFid(x.to(ScalarType.Float64));
        else if (name.EndsWith("_pytorch_fid", StringComparison.Ordinal))
            actual = FidPreprocess.PytorchFid(x);
        else if (name.EndsWith("_rosinality_calc_inception", StringComparison.Ordinal))
            actual = FidPreprocess.Resize299(FidPreprocess.NormalizeHalf(x));
        else
            throw new InvalidOperationException($"fid_preprocess: unknown check '{name}'");
        var m = SubsampleSuffix().Match(expectedName);
        if (m.Success)
        {
            long step = long.Parse(m.Groups[1].Value);
            actual = actual[.., .., TensorIndex.Slice(null, null, step), TensorIndex.Slice(null, null, step)];
        }
        Close.Assert(actual, fx.T(expectedName), Rtol(c), Atol(c), name);
    }

    public static void Block(MetricsFixture fx, JsonElement c)
    {
        using var scope = NewDisposeScope();
        string name = Name(c);
        var dtype = name.EndsWith("_f64", StringComparison.Ordinal) ? ScalarType.Float64
            : name.EndsWith("_f32", StringComparison.Ordinal) ? ScalarType.Float32
            : throw new InvalidOperationException($"fid_inception_blocks: unknown check '{name}'");
        string block = name[..^4];
        var spec = fx.Manifest.GetProperty("blocks").GetProperty(block);
        var sd = StateDicts.WithPrefix(Recipe.StateDict(spec.GetProperty("recipe"), fx.BaseSeed("recipe")), block + ".");
        using var module = BuildBlock(spec.GetProperty("torch_class").GetString()!, sd);
        StateDicts.Load(module, sd, strict: true, ignore: FidInceptionV3.IsIgnoredKey, what: block);
        module.to(dtype).eval();
        using var _ = no_grad();
        var y = module.forward(fx.T(Inputs(c).Single()).to(dtype));
        Close.Assert(y, fx.T(ExpectedNames(c).Single()), Rtol(c), Atol(c), name);
    }

    /// <summary>The block class from the manifest, its sizes from the weight shapes (no sizes assumed).</summary>
    private static nn.Module<Tensor, Tensor> BuildBlock(string torchClass, IReadOnlyDictionary<string, Tensor> sd)
    {
        long Out(string k) => sd[k + ".conv.weight"].shape[0];
        long In(string k) => sd[k + ".conv.weight"].shape[1];
        return torchClass switch
        {
            "FIDInceptionA" => new FidInceptionA(In("branch1x1"), Out("branch_pool")),
            "InceptionB" => new InceptionB(In("branch3x3")),
            "FIDInceptionC" => new FidInceptionC(In("branch1x1"), Out("branch7x7_1")),
            "InceptionD" => new InceptionD(In("branch3x3_1")),
            "FIDInceptionE_1" => new FidInceptionE(In("branch1x1"), maxPool: false),
            "FIDInceptionE_2" => new FidInceptionE(In("branch1x1"), maxPool: true),
            _ => throw new InvalidOperationException($"unknown Inception block class '{torchClass}'"),
        };
    }

    private static readonly ConcurrentDictionary<(string, ScalarType), FidInceptionV3> FullModels = new();
    private static readonly ConcurrentDictionary<(string, string, ScalarType, bool), Tensor[]> FullOutputs = new();

    private static FidInceptionV3 FullModel(MetricsFixture fx, ScalarType dtype) => FullModels.GetOrAdd((fx.Dir, dtype), _ =>
    {
        var model = new FidInceptionV3();
        var recipe = fx.Manifest.GetProperty("recipe");
        model.LoadStateDict(Recipe.StateDict(recipe.GetProperty("state_dict"), Recipe.ParseSeed(recipe.GetProperty("base_seed"))));
        model.to(dtype).eval();
        // Cached across checks: keep it out of the dispose scope of the check that happened to build it.
        foreach (var t in model.parameters()) t.DetachFromDisposeScope();
        foreach (var t in model.buffers()) t.DetachFromDisposeScope();
        return model;
    });

    /// <summary>Block outputs 0..3 for one input group (cached: several checks read the same forward pass).</summary>
    private static Tensor[] FullForward(MetricsFixture fx, string input, ScalarType dtype, bool rosinality) =>
        FullOutputs.GetOrAdd((fx.Dir, input, dtype, rosinality), _ =>
        {
            using var scope = NewDisposeScope();
            using var g = no_grad();
            var x = FidPreprocess.ToTensor(fx.T(input)).to(dtype);
            var model = FullModel(fx, dtype);
            var outs = rosinality
                ? model.ForwardBlocks(FidPreprocess.NormalizeHalf(x), [0, 1, 2, 3], normalizeInput: false)
                : model.ForwardBlocks(x, [0, 1, 2, 3]);
            // Detached, not moved out: the caller may itself be inside a scope, and the cache outlives it.
            return outs.Select(o => o.mean([2, 3]).DetachFromDisposeScope()).ToArray();
        });

    [GeneratedRegex(@"^(.+)_(pool3_f32|pool3_f64|pool3_rosinality|block(\d)_dims(\d+))$")]
    private static partial Regex FullCheckName();

    public static void Full(MetricsFixture fx, JsonElement c)
    {
        string name = Name(c);
        var m = FullCheckName().Match(name);
        if (!m.Success) throw new InvalidOperationException($"fid_inception_full: unknown check '{name}'");
        string input = Inputs(c).Single();
        var expected = ExpectedNames(c);
        string kind = m.Groups[2].Value;
        if (kind.StartsWith("block", StringComparison.Ordinal))
        {
            int block = int.Parse(m.Groups[3].Value);
            Assert.Equal(FidInceptionV3.BlockDims[block], int.Parse(m.Groups[4].Value));
            foreach (var e in expected)
            {
                var dtype = e.EndsWith("_f64", StringComparison.Ordinal) ? ScalarType.Float64 : ScalarType.Float32;
                Close.Assert(FullForward(fx, input, dtype, false)[block], fx.T(e), Rtol(c), Atol(c), $"{name} ({e})");
            }
            return;
        }
        var (dt, ros) = kind switch
        {
            "pool3_f32" => (ScalarType.Float32, false),
            "pool3_f64" => (ScalarType.Float64, false),
            _ => (ScalarType.Float32, true),
        };
        Close.Assert(FullForward(fx, input, dt, ros)[3], fx.T(expected.Single()), Rtol(c), Atol(c), name);
    }
}
