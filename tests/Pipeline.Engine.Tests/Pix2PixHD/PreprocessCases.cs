using System.Text.Json;
using Pipeline.Engine.Pix2PixHD;
using Pipeline.Imaging.Labels;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Pix2PixHD;

/// <summary>`preprocess`: PNG decoding, the test-time transforms of every listed case, and tensor2im.</summary>
internal static class PreprocessCases
{
    public static void Run(ParityCase c)
    {
        var cases = c.Config.GetProperty("cases").EnumerateArray().ToList();
        int defaultLabelNc = c.Config.TryGetProperty("label_nc", out var l) ? l.GetInt32() : 35;
        for (int n = 0; n < cases.Count; n++) RunCase(c, $"case{n}", cases[n], defaultLabelNc);
        if (c.Has("in.tensor2im")) c.Check("out.tensor2im", Preprocess.ToImage(c["in.tensor2im"]));
    }

    private static int Get(JsonElement e, string key, int fallback) => e.TryGetProperty(key, out var v) ? v.GetInt32() : fallback;

    private static void RunCase(ParityCase c, string id, JsonElement spec, int defaultLabelNc)
    {
        int labelNc = Get(spec, "label_nc", defaultLabelNc);
        var o = new Pix2PixHDOptions
        {
            ResizeOrCrop = spec.GetProperty("mode").GetString()!,
            LoadSize = Get(spec, "loadSize", 1024),
            FineSize = Get(spec, "fineSize", 512),
            LabelNc = labelNc,
        };
        // `none` rounds to 2^n_downsample_global (x 2^n_local_enhancers for netG local); accept the reference's names too.
        int nLocal = Get(spec, "n_local", Get(spec, "n_local_enhancers", 1));
        bool local = (spec.TryGetProperty("netG", out var ng) && ng.GetString() == "local") || spec.TryGetProperty("n_local", out _);
        int sizeBase = (1 << Get(spec, "n_down", Get(spec, "n_downsample_global", 4))) * (local ? 1 << nLocal : 1);
        (int, int)? crop = null;
        if (c.Scalars.ValueKind == JsonValueKind.Object && c.Scalars.TryGetProperty("crop_pos_xy", out var cp) && cp.TryGetProperty(id, out var xy))
            crop = (xy[0].GetInt32(), xy[1].GetInt32());
        int rawW = spec.GetProperty("raw_w").GetInt32(), rawH = spec.GetProperty("raw_h").GetInt32();
        var plan = Preprocess.Plan(o, rawW, rawH, sizeBase, crop ?? (0, 0));

        var photo = DecodeChecked(c, id, "image", rawW, rawH);
        var photoRgb = photo.ToRgb();
        if (labelNc == 0)
        {
            // label_nc 0: the label input is an RGB photo ("A" image), loaded with the photo transform.
            c.Check($"out.{id}.label", Preprocess.PhotoToTensor(Preprocess.Apply(photoRgb, plan))[0]);
        }
        else
        {
            var label = DecodeChecked(c, id, "label", rawW, rawH);
            c.Check($"out.{id}.label", Preprocess.IdsToTensor(Preprocess.Apply(new IdMap(rawW, rawH, label.Planes[0]), plan))[0]);
        }
        if (c.TensorNames.Contains($"out.{id}.inst"))
        {
            var inst = DecodeChecked(c, id, "inst", rawW, rawH);
            c.Check($"out.{id}.inst", Preprocess.IdsToTensor(Preprocess.Apply(new IdMap(rawW, rawH, inst.Planes[0]), plan))[0]);
        }
        c.CheckIfPresent($"out.{id}.image", Preprocess.PhotoToTensor(Preprocess.Apply(photoRgb, plan))[0]);
    }

    /// <summary>Decodes caseN_kind.png with the exact PNG reader (Pipeline.Imaging.Labels) and checks it against the raw pixels the reference read.</summary>
    private static PngImage DecodeChecked(ParityCase c, string id, string kind, int w, int h)
    {
        var png = PngSamples.Decode(File.ReadAllBytes(c.PathOf($"{id}_{kind}.png")));
        Assert.Equal((w, h), (png.Width, png.Height));
        var raw = c[$"in.{id}.{kind}_png"];
        var decoded = tensor(png.Planes.SelectMany(p => p).Select(v => (float)v).ToArray(), [png.Planes.Length, h, w]);
        var expected = raw.dim() == 3 ? raw.permute(2, 0, 1) : raw.unsqueeze(0);
        Assert.True(expected.shape.SequenceEqual(decoded.shape) && expected.eq(decoded).all().item<bool>(), $"{c.Kind}: {id}_{kind}.png decodes differently from in.{id}.{kind}_png");
        return png;
    }
}
