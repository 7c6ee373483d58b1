using System.Text.RegularExpressions;
using Pipeline.Engine.Council;
using Pipeline.Tests;
using Pipeline.Imaging;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Council;

/// <summary>
/// Data-driven parity over every case under $PIPELINE_FIXTURES/council/: the case kind is recognised from the
/// manifest's tensor names, every size/count/tolerance comes from the manifest, config.yaml and the checkpoints,
/// and every expected tensor of a case must be compared (an output the test cannot produce fails the case).
/// </summary>
public partial class CouncilParityTests
{
    public static TheoryData<string> Cases()
    {
        var cases = TestPaths.FixtureCases("council", "manifest.json").ToList();
        // Without fixtures one placeholder case runs and skips with the reason.
        return new TheoryData<string>(cases.Count > 0 ? cases : ["(no council fixtures)"]);
    }

    [Theory, Trait("Category", "Parity")]
    [MemberData(nameof(Cases))]
    public void Case(string name)
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("council"), name);
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "manifest.json")), $"No council fixture cases: {dir} has no manifest.json");
        RunCase(dir);
    }

    /// <summary>Checks one case folder; also used on derived copies to show which tensors the suite compares.</summary>
    internal static void RunCase(string dir)
    {
        var name = Path.GetFileName(dir);
        using var scope = NewDisposeScope();
        using var fx = new CouncilFixture(dir);
        var names = fx.Manifest.Keys.ToHashSet();
        if (names.Contains("adain_params")) GenForward(fx);
        else if (names.Contains("dis.loss_d") || names.Contains("dcl.loss_d")) DisForward(fx);
        else if (names.Any(n => ImageMember().IsMatch(n))) CouncilInference(fx);
        else if (names.Contains("dis_update.loss")) CouncilTrainStepParity.Run(fx);
        else Assert.Fail($"council fixture '{name}' is of an unknown kind (tensors: {string.Join(", ", names.Take(12))}); teach this suite to check it");
        Assert.True(!fx.Unchecked.Any(), $"{name}: expected tensors not checked by the suite: {string.Join(", ", fx.Unchecked)}");
    }

    [GeneratedRegex(@"^img(\d+)\.member$")]
    private static partial Regex ImageMember();

    /// <summary>One generator, every checkpoint file of the case (zip and legacy): stages, mask, output.</summary>
    private static void GenForward(CouncilFixture fx)
    {
        var files = fx.Files("*.pt");
        Assert.NotEmpty(files);
        var x = fx.Get("x");
        var z = fx.Get("style");
        foreach (var file in files)
        {
            using var g = CouncilCheckpoint.LoadGenerator(file, fx.Config.Gen, fx.Config.Direction);
            using var _ = no_grad();
            var encTaps = new List<Tensor>();
            var content = g.EncodeContent(x, encTaps);
            fx.AssertClose("content", content);
            if (fx.Has("style_enc")) fx.AssertClose("style_enc", g.EncodeStyle(x));
            var p = g.AdaInParams(z);
            fx.AssertClose("adain_params", p);
            var decTaps = new List<Tensor>();
            var y = g.Decode(content, p, x, out var mask, decTaps);
            fx.AssertClose("out", y);
            if (fx.Has("mask")) fx.AssertClose("mask", mask);
            AssertTaps(fx, "enc", encTaps);
            AssertTaps(fx, "dec", decTaps);
        }
    }

    private static void AssertTaps(CouncilFixture fx, string prefix, List<Tensor> taps)
    {
        int stored = fx.Manifest.Keys.Count(k => k.StartsWith(prefix + ".", StringComparison.Ordinal));
        if (stored == 0) return;
        Assert.Equal(stored, taps.Count);
        for (int i = 0; i < taps.Count; i++) fx.AssertClose($"{prefix}.{i}", taps[i]);
    }

    /// <summary>D and \hat D per scale, the pooled inputs and the four LSGAN values.</summary>
    private static void DisForward(CouncilFixture fx)
    {
        var dFile = fx.Files("*_dis_*.pt").Single(f => !Path.GetFileName(f).Contains("_dis_council_", StringComparison.Ordinal));
        var dcFile = fx.Files("*_dis_council_*.pt").Single();
        using var d = (MsImageDis)CouncilCheckpoint.LoadDiscriminator(dFile, council: false, fx.Config.Dis, fx.Config.Direction);
        using var dc = (MsImageDisCouncil)CouncilCheckpoint.LoadDiscriminator(dcFile, council: true, fx.Config.Dis, fx.Config.Direction);
        using var _ = no_grad();
        Tensor xFake = fx.Get("x_fake"), xReal = fx.Get("x_real"), xInput = fx.Get("x_input");

        var pooled = new List<Tensor>();
        var fake = d.Run(xFake, pooled);
        var real = d.forward(xReal);
        Assert.Equal(fx.Config.Dis.NumScales, fake.Length);
        for (int s = 0; s < fake.Length; s++)
        {
            if (fx.Has($"pool.s{s}")) fx.AssertClose($"pool.s{s}", pooled[s]);
            fx.AssertClose($"dis.fake.s{s}", fake[s]);
            fx.AssertClose($"dis.real.s{s}", real[s]);
        }
        fx.AssertClose("dis.loss_d", CouncilLosses.DisLoss(fake, real).reshape(1));
        fx.AssertClose("dis.loss_g", CouncilLosses.GenLoss(fake).reshape(1));

        var cFake = dc.forward(xFake, xInput);
        var cReal = dc.forward(xReal, xInput);
        for (int s = 0; s < cFake.Length; s++)
        {
            fx.AssertClose($"dcl.fake.s{s}", cFake[s]);
            fx.AssertClose($"dcl.real.s{s}", cReal[s]);
        }
        fx.AssertClose("dcl.loss_d", CouncilLosses.DisLoss(cFake, cReal).reshape(1));
        fx.AssertClose("dcl.loss_g", CouncilLosses.GenLoss(cFake).reshape(1));
    }

    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg", ".bmp", ".webp"];

    /// <summary>test_on_folder.py over the case's images: decode, resize+crop, member, seeded z, outputs, bytes.</summary>
    private static void CouncilInference(CouncilFixture fx)
    {
        var gens = fx.Files("*_gen_*.pt");
        Assert.NotEmpty(gens);
        var step = Regex.Match(Path.GetFileName(gens[0]), @"_(\d{8})\.pt$").Groups[1].Value;
        // The reference's whole-council invocation: --checkpoint <dir>/<step>.
        using var council = CouncilTranslator.Load(Path.Combine(fx.Dir, step), new CouncilLoadOptions { ConfigPath = Path.Combine(fx.Dir, "config.yaml") });
        Assert.Equal(fx.Config.Council.CouncilSize, council.Members.Count);

        var images = Directory.EnumerateFiles(fx.Dir, "*", SearchOption.AllDirectories)
            .Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToArray();
        int count = fx.Manifest.Keys.Count(k => ImageMember().IsMatch(k));
        Assert.Equal(count, images.Length);
        for (int n = 0; n < images.Length; n++)
        {
            var p = $"img{n}.";
            var decoded = TestImages.DecodeRgb(images[n]);
            if (fx.Has(p + "input_u8")) fx.AssertClose(p + "input_u8", ToHwc(decoded));
            int member = (int)fx.Get(p + "member").item<long>();
            var options = new TranslateOptions { NumStyles = (int)fx.Get(p + "style").shape[0], Member = member, SeedBase = 2 };
            using var t = council.Translate(decoded, n, options);
            Assert.Equal(n + 2, t.Record.ZSeed);
            fx.AssertClose(p + "member", tensor(new long[] { t.Record.Member }));
            fx.AssertClose(p + "resized_u8", ToHwc(t.Resized));
            fx.AssertClose(p + "x", t.Input);
            fx.AssertClose(p + "content", t.Content);
            fx.AssertClose(p + "style", t.Z);
            fx.AssertClose(p + "out", t.Outputs);
            fx.AssertClose(p + "out_u8", t.Bytes);
            if (fx.Has(p + "input_saved_u8")) fx.AssertClose(p + "input_saved_u8", ImageTensors.ToBytes(t.Input, OutputMapping.MinMax)[0]);
        }
    }

    private static Tensor ToHwc(RgbImage img) => tensor(img.Pixels, [img.Height, img.Width, 3], ScalarType.Byte);
}

/// <summary>
/// Fixture images through the pipeline's one decoder, as PIL's convert("RGB") (the preprocess parity test checks the
/// pixels against the reference's input_u8).
/// </summary>
internal static class TestImages
{
    public static RgbImage DecodeRgb(string path) => ImageDecoder.DecodeFile(path, RgbConversion.PilConvert);
}
