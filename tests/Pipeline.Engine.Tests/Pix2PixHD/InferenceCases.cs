using System.Text.Json;
using Pipeline.Engine.Pix2PixHD;
using Pipeline.Imaging;
using Pipeline.Imaging.Labels;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Pix2PixHD;

/// <summary>`inference*`: test.py end to end from the PNG files and the reference's model folder layout.</summary>
internal static class InferenceCases
{
    public static void Run(ParityCase c)
    {
        var o = OptionsParser.FromArgv(c.Config.GetProperty("argv").EnumerateArray().Select(e => e.GetString()!));
        using var translator = LoadTranslator(c, o);
        Assert.Equal(o.NetGInputNc, translator.Generator.InputNc);

        // label_nc 0 models read label.png as an image (the reference's test_A), not as class ids.
        var labels = o.LabelNc == 0 ? null : Decode(c, "label");
        var request = new Label2ImageRequest(labels)
        {
            InputImage = o.LabelNc == 0 ? PngSamples.Decode(File.ReadAllBytes(c.PathOf("label.png"))).ToRgb() : null,
            Instances = File.Exists(c.PathOf("inst.png")) ? Decode(c, "inst") : null,
            CropPosition = CropPosition(c),
            Chooser = RecordedChoices(c, out var asked, out var recorded),
        };
        using (var r = translator.Translate(request))
        {
            c.Check("out.label_tensor", r.Label);
            if (r.Instances is not null) c.CheckIfPresent("out.inst_tensor", r.Instances);
            c.Check("out.generated", r.Generated);
            c.Check("out.image_uint8", r.Image);
        }
        if (recorded is not null) Assert.Equal(recorded.Order(), asked.Order());
        if (c.TensorNames.Contains("out.generated_encoded"))
        {
            var photo = PngSamples.Decode(File.ReadAllBytes(c.PathOf("image.png"))).ToRgb();
            using var r = translator.Translate(request with { Photo = photo, UseEncodedImage = true });
            c.Check("out.generated_encoded", r.Generated);
        }
    }

    /// <summary>The fixture folder is laid out like the reference's checkpoints folder, so it loads as a model folder.</summary>
    private static Translator LoadTranslator(ParityCase c, Pix2PixHDOptions o)
    {
        var argv = c.Config.GetProperty("argv").EnumerateArray().Select(e => e.GetString()!).ToList();
        int w = argv.IndexOf("--which_epoch");
        var t = Translator.Load(c.Dir, o, which: w >= 0 && w + 1 < argv.Count ? argv[w + 1] : "latest");
        Assert.Equal(GeneratorConfig.From(o), t.Generator);
        if (t.Clusters is not null) CheckClusters(c, t.Clusters);
        Assert.Equal(o.UsesFeatures, t.Clusters is not null);
        return t;
    }

    /// <summary>The cluster file read by the engine equals the centres the fixture lists as in.cluster.&lt;label&gt;.</summary>
    private static void CheckClusters(ParityCase c, FeatureClusters clusters)
    {
        var listed = c.Matching("in.cluster.").ToList();
        Assert.Equal(listed.Count, clusters.Centres.Count);
        foreach (var name in listed)
        {
            int label = int.Parse(name["in.cluster.".Length..], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(clusters.Centres.TryGetValue(label, out var centres), $"cluster file lacks label {label}");
            var got = tensor(centres!.SelectMany(r => r).Select(v => (float)v).ToArray(), [centres!.Length, clusters.FeatNum]);
            Assert.True(got.eq(c[name]).all().item<bool>(), $"cluster centres of label {label} differ from {name}");
        }
    }

    private static IdMap Decode(ParityCase c, string kind)
    {
        var png = PngSamples.Decode(File.ReadAllBytes(c.PathOf($"{kind}.png")));
        Assert.True(png.IsSingleChannel, $"{kind}.png is not single-channel");
        if (c.Has($"in.{kind}_png"))
        {
            var raw = c[$"in.{kind}_png"];
            var decoded = tensor(png.Planes[0].Select(v => (float)v).ToArray(), [png.Height, png.Width]);
            Assert.True(raw.eq(decoded).all().item<bool>(), $"{kind}.png decodes differently from in.{kind}_png");
        }
        return new IdMap(png.Width, png.Height, png.Planes[0]);
    }

    private static (int, int)? CropPosition(ParityCase c)
    {
        if (c.Scalars.ValueKind == JsonValueKind.Object && c.Scalars.TryGetProperty("crop_pos_xy", out var xy) && xy.ValueKind == JsonValueKind.Array)
            return (xy[0].GetInt32(), xy[1].GetInt32());
        return (0, 0);
    }

    /// <summary>The reference's NumPy draws, recorded as rows [instance id, index]; any other request fails the case.</summary>
    private static ClusterChooser? RecordedChoices(ParityCase c, out List<long> asked, out List<long>? recorded)
    {
        asked = [];
        recorded = null;
        if (!c.Has("aux.cluster_choice")) return null;
        var askedIds = asked;
        var rows = c["aux.cluster_choice"];
        var map = new Dictionary<long, int>();
        for (long i = 0; i < rows.shape[0]; i++) map[(long)rows[i, 0].item<float>()] = (int)rows[i, 1].item<float>();
        recorded = [.. map.Keys];
        return (id, _, k) =>
        {
            askedIds.Add(id);
            Assert.True(map.TryGetValue(id, out var pick), $"{c.Kind}: the port asked for a cluster for id {id}, which the reference did not draw");
            Assert.InRange(pick, 0, k - 1);
            return pick;
        };
    }
}
