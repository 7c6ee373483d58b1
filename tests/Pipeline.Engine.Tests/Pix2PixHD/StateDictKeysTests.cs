using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Engine.Pix2PixHD;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Pix2PixHD;

/// <summary>
/// The reference's exact state_dict keys and shapes of the label2city networks (state_dict_keys_label2city.json): the
/// port reads each configuration back from the shapes, builds it, and must produce the same keys in the same order.
/// </summary>
[Trait("Category", "Parity")]
public sealed class StateDictKeysTests
{
    [Fact]
    public void BuiltNetworksHaveTheReferenceKeysAndShapes()
    {
        var file = Path.Combine(TestPaths.RequireFixtureDir("pix2pixhd"), "state_dict_keys_label2city.json");
        Requirement.SkipUnless(File.Exists(file), $"Fixture file {file} not in this fixture set");
        using var doc = JsonDocument.Parse(File.ReadAllText(file));
        Assert.NotEmpty(doc.RootElement.EnumerateObject());
        GeneratorConfig? lastGlobal = null;
        foreach (var entry in doc.RootElement.EnumerateObject())
        {
            using var scope = NewDisposeScope();
            var expected = entry.Value.EnumerateArray().Select(e => (e[0].GetString()!, e[1].EnumerateArray().Select(d => d.GetInt64()).ToArray())).ToList();
            // Shapes only: zero tensors stand in for the weights.
            var sd = expected.ToDictionary(e => e.Item1, e => (Tensor)zeros(e.Item2));
            // An entry may list only the keys that differ from the previous configuration ("else as 512p").
            bool partial = entry.Name[0] == 'G' && !sd.Keys.Any(k => k.Contains("conv_block", StringComparison.Ordinal));
            if (partial)
            {
                Assert.NotNull(lastGlobal);
                var g = Networks.BuildGenerator(lastGlobal! with { InputNc = (int)sd["model.1.weight"].shape[1] });
                var all = g.state_dict();
                foreach (var (key, shape) in expected)
                {
                    Assert.True(all.ContainsKey(key), $"{entry.Name}: the port has no '{key}'");
                    Assert.Equal(shape, all[key].shape);
                }
                continue;
            }
            if (entry.Name[0] == 'G' && !Networks.InferGenerator(sd).Local) lastGlobal = Networks.InferGenerator(sd);
            nn.Module net = entry.Name[0] switch
            {
                'G' => Networks.BuildGenerator(Networks.InferGenerator(sd)),
                'E' => BuildEncoder(sd),
                'D' => new MultiscaleDiscriminator(Networks.InferDiscriminator(sd)),
                _ => throw new InvalidOperationException($"unknown network '{entry.Name}' in {file}"),
            };
            CheckDescribedConfig(entry.Name, sd);
            var got = net.state_dict().Select(kv => (kv.Key, kv.Value.shape)).ToList();
            Assert.Equal(expected.Select(e => e.Item1), got.Select(g => g.Key));
            for (int i = 0; i < got.Count; i++)
                Assert.True(expected[i].Item2.SequenceEqual(got[i].shape), $"{entry.Name}: {got[i].Key} has [{string.Join(", ", got[i].shape)}]");
        }
    }

    private static Encoder BuildEncoder(Dictionary<string, Tensor> sd)
    {
        var (inputNc, featNum, nef, n, norm) = Networks.InferEncoder(sd);
        return new Encoder(inputNc, featNum, nef, n, norm);
    }

    /// <summary>Numbers the entry's title states ("ngf 32", "num_D 3", ...) must be what the shapes were read as.</summary>
    private static void CheckDescribedConfig(string title, Dictionary<string, Tensor> sd)
    {
        int? Stated(string key) => Regex.Match(title, $@"\b{key} (\d+)") is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
        if (title[0] == 'G')
        {
            var g = Networks.InferGenerator(sd);
            Assert.Equal(Stated("input_nc") ?? g.InputNc, g.InputNc);
            Assert.Equal(Stated("ngf") ?? g.Ngf, g.Ngf);
            Assert.Equal(Stated("n_downsample_global") ?? g.NDownsample, g.NDownsample);
            Assert.Equal(Stated("n_blocks_global") ?? g.NBlocks, g.NBlocks);
            Assert.Equal(Stated("n_local_enhancers") ?? g.NLocalEnhancers, g.NLocalEnhancers);
            Assert.Equal(Stated("n_blocks_local") ?? g.NBlocksLocal, g.NBlocksLocal);
        }
        else if (title[0] == 'D')
        {
            var d = Networks.InferDiscriminator(sd);
            Assert.Equal(Stated("ndf") ?? d.Ndf, d.Ndf);
            Assert.Equal(Stated("n_layers_D") ?? d.NLayers, d.NLayers);
            Assert.Equal(Stated("num_D") ?? d.NumD, d.NumD);
            Assert.Equal(!title.Contains("getIntermFeat False", StringComparison.Ordinal), d.GetIntermFeat);
        }
        else
        {
            var e = Networks.InferEncoder(sd);
            Assert.Equal(Stated("feat_num") ?? e.FeatNum, e.FeatNum);
            Assert.Equal(Stated("nef") ?? e.Nef, e.Nef);
            Assert.Equal(Stated("n_downsample_E") ?? e.NDownsample, e.NDownsample);
        }
    }
}
