using System.Text.Json;
using System.Text.RegularExpressions;
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
    public static TheoryData<string> Cases() => StyleGan1ParityTests.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public void CheckpointFilesLoadStrictly(string name)
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("stylegan1"), name);
        if (!Directory.Exists(dir)) Assert.Skip("no stylegan1 fixture cases found");
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
        if (loaded == 0) Assert.Skip($"{name}: no StyleGAN v1 checkpoint files");
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
