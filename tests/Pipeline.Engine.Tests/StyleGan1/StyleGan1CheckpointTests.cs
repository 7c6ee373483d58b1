using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// Every checkpoint file of every fixture case (legacy torch.save, zip, bare g_running state_dict) loads strictly into
/// the networks it describes; meta.json's description of the file (its top-level keys, "the same checkpoint dict as X")
/// is checked too.
/// </summary>
[Trait("Category", "Parity")]
public sealed partial class StyleGan1CheckpointTests
{
    /// <summary>
    /// Fixture folders holding at least one checkpoint file. The others (state_dict_layout: no weights at all; ops: one
    /// state_dict per layer) have nothing to load here; the parity suite checks them, and
    /// <see cref="EveryModelFileIsACaseOrUsedByItsCalls"/> keeps any weights file from falling between the two.
    /// </summary>
    public static TheoryData<string> Cases() =>
        CaseNames.Value.Length == 0 ? new TheoryData<string>("(no fixtures)") : new TheoryData<string>(CaseNames.Value);

    // Unpickling every weights file to classify it costs a moment; do it once per run.
    private static readonly Lazy<string[]> CaseNames = new(() => TestPaths.FixtureCases("stylegan1", "meta.json")
        .Where(n => CheckpointFiles(Path.Combine(TestPaths.FixtureRoot!, "stylegan1", n)).Length > 0).ToArray());

    /// <summary>The *.model files of a folder that unpickle to a StyleGAN v1 checkpoint (dict or bare state_dict).</summary>
    private static string[] CheckpointFiles(string dir)
    {
        using var scope = NewDisposeScope();
        return Directory.GetFiles(dir, "*.model").Order(StringComparer.Ordinal).Where(f => LooksLikeCheckpoint(TorchFile.Load(f))).ToArray();
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void CheckpointFilesLoadStrictly(string name)
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("stylegan1"), name);
        Requirement.SkipWhen(!Directory.Exists(dir), "no stylegan1 fixture cases found");
        using var fx = new FixtureCase(dir);
        var files = fx.Meta.TryGetProperty("files", out var f) ? f : default;
        int loaded = 0;
        foreach (var path in Directory.GetFiles(dir, "*.model").Order(StringComparer.Ordinal))
        {
            var file = Path.GetFileName(path);
            var tree = fx.Tree(file);
            if (!LooksLikeCheckpoint(tree)) continue;
            var ck = fx.Checkpoint(file);
            if (ck.GRunning is not null) ck.CreateGenerator(useRunningAverage: true).Dispose();
            if (ck.GeneratorState is not null) ck.CreateGenerator(useRunningAverage: false).Dispose();
            if (ck.DiscriminatorState is not null) ck.CreateDiscriminator().Dispose();
            Assert.Equal(GanFamily.StyleGan1, ModelFamily.Detect(tree));
            loaded++;
            if (files.ValueKind != JsonValueKind.Object || !files.TryGetProperty(file, out var described)) continue;
            if (described.ValueKind == JsonValueKind.Array)
                Assert.Equal(described.EnumerateArray().Select(x => x.GetString()), ((OrderedDictionary<string, object?>)tree!).Keys);
            else if (SameAs().Match(described.GetString() ?? "") is { Success: true } m)
                AssertSameTensors(fx.Tree(m.Groups[1].Value), tree, $"{file} vs {m.Groups[1].Value}");
        }
        Assert.True(loaded > 0, $"{name}: no StyleGAN v1 checkpoint files, so it should not be a case");
    }

    /// <summary>
    /// No weights go unchecked now that non-checkpoint folders are not cases: every *.model file under the fixtures is a
    /// checkpoint of a case above, or a dict of per-layer state_dicts each of which a call of its folder uses ("params").
    /// </summary>
    [Fact]
    public void EveryModelFileIsACaseOrUsedByItsCalls()
    {
        var cases = CaseNames.Value.ToHashSet(StringComparer.Ordinal);
        int files = 0;
        foreach (var name in TestPaths.FixtureCases("stylegan1", "meta.json"))
        {
            var dir = Path.Combine(TestPaths.RequireFixtureDir("stylegan1"), name);
            using var fx = new FixtureCase(dir);
            var used = fx.Calls.Select(c => c.OptStr("params")).OfType<string>().ToHashSet(StringComparer.Ordinal);
            foreach (var path in Directory.GetFiles(dir, "*.model"))
            {
                files++;
                var file = Path.GetFileName(path);
                var tree = fx.Tree(file);
                if (LooksLikeCheckpoint(tree))
                {
                    Assert.True(cases.Contains(name), $"{name}/{file} is a checkpoint but {name} is not a case");
                    continue;
                }
                var bundle = Assert.IsType<OrderedDictionary<string, object?>>(tree);
                Assert.NotEmpty(bundle);
                foreach (var (layer, sd) in bundle)
                {
                    Assert.IsType<OrderedDictionary<string, object?>>(sd);
                    Assert.True(used.Contains(layer), $"{name}/{file}: '{layer}' is neither a checkpoint nor used by a call of {name}/meta.json");
                }
            }
        }
        Requirement.SkipWhen(files == 0, "no stylegan1 fixture weights found");
    }

    private static bool LooksLikeCheckpoint(object? tree) =>
        tree is OrderedDictionary<string, object?> d
        && (d.ContainsKey("g_running") || d.ContainsKey("generator") || d.ContainsKey("discriminator")
            || d.Keys.Any(k => k.StartsWith("generator.progression.", StringComparison.Ordinal) || k.StartsWith("from_rgb.", StringComparison.Ordinal)));

    private static void AssertSameTensors(object? a, object? b, string path)
    {
        switch (a)
        {
            case OrderedDictionary<string, object?> da:
                var db = Assert.IsType<OrderedDictionary<string, object?>>(b);
                Assert.Equal(da.Keys, db.Keys);
                foreach (var (k, v) in da) AssertSameTensors(v, db[k], $"{path}/{k}");
                break;
            case Tensor ta:
                var tb = Assert.IsType<Tensor>(b, exactMatch: false);
                Assert.True(ta.shape.SequenceEqual(tb.shape) && ta.eq(tb).all().item<bool>(), $"{path}: tensors differ");
                break;
        }
    }

    [GeneratedRegex("same checkpoint dict as `([^`]+)`")]
    private static partial Regex SameAs();
}
