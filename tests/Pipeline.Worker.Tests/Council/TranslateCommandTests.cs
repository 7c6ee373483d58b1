using System.Text.Json;
using System.Text.RegularExpressions;
using Pipeline.Engine.IO;
using Pipeline.Tests;
using Pipeline.Worker.Cli.Council;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.Council;

/// <summary>
/// `pipeline translate` end to end on the council_inference fixture: the PNGs it writes hold the reference's
/// min-max bytes (±1), and results.jsonl records member and seed; errors are reported, not thrown.
/// </summary>
public class TranslateCommandTests
{
    private static string RequireInferenceCase()
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("council"), "council_inference");
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "io.safetensors")), $"Council fixture {dir}/io.safetensors is absent");
        return dir;
    }

    [Fact, Trait("Category", "Parity")]
    public void WritesTheReferenceOutputsAndRecordsMemberAndSeed()
    {
        var dir = RequireInferenceCase();
        var io = SafeTensors.Load(Path.Combine(dir, "io.safetensors"));
        var image = Directory.GetFiles(dir, "*.png").Order(StringComparer.Ordinal).First();
        int member = (int)io["img0.member"].item<long>();
        var expected = io["img0.out_u8"];
        int k = (int)expected.shape[0];
        var step = Regex.Match(Path.GetFileName(Directory.GetFiles(dir, "*_gen_*.pt")[0]), @"_(\d{8})\.pt$").Groups[1].Value;
        var outDir = Directory.CreateTempSubdirectory("council-translate").FullName;
        try
        {
            var cmd = new TranslateCommand().Build();
            int rc = cmd.Parse([image, "--model", Path.Combine(dir, step), "--outputs", k.ToString(), "--member", member.ToString(),
                "--seed", "2", "--crop-face", "false", "--out", outDir]).Invoke(); // the reference translates the whole image
            Assert.Equal(0, rc);

            var line = File.ReadAllLines(Path.Combine(outDir, "results.jsonl")).Single();
            var rec = JsonDocument.Parse(line).RootElement.GetProperty("Record");
            Assert.Equal(member, rec.GetProperty("Member").GetInt32());
            Assert.Equal(2, rec.GetProperty("ZSeed").GetInt64());
            var folder = JsonDocument.Parse(line).RootElement.GetProperty("Folder").GetString()!;
            for (int j = 0; j < k; j++)
            {
                var png = CouncilImageIO.Decode(Path.Combine(folder, $"out_{j:D2}.png"));
                using var got = tensor(png.Pixels, [png.Height, png.Width, 3], ScalarType.Byte).to(ScalarType.Int32);
                using var diff = (got - expected[j].to(ScalarType.Int32)).abs().max();
                Assert.True(diff.item<int>() <= 1, $"out_{j:D2}.png differs from the reference bytes by {diff.item<int>()}");
            }
            var sheet = CouncilImageIO.Decode(Path.Combine(outDir, "contact_sheet.png"));
            int s = (int)expected.shape[1];
            int cell = s * Math.Max(1, 128 / s); // small models are enlarged by an integer factor on the sheet
            Assert.Equal((k + 1) * cell + (k + 2) * 2, sheet.Width);
            Assert.Equal(cell + 2 * 2, sheet.Height);
        }
        finally
        {
            Directory.Delete(outDir, true);
            foreach (var t in io.Values) t.Dispose();
        }
    }

    [Fact]
    public void MissingInputOrModelIsAClearErrorExitCode()
    {
        var cmd = new TranslateCommand().Build();
        var missing = Path.Combine(Path.GetTempPath(), "no-such-council-input-" + Guid.NewGuid().ToString("N"));
        Assert.Equal(2, cmd.Parse([missing, "--model", missing]).Invoke());
        var img = Directory.CreateTempSubdirectory("council-in").FullName;
        try
        {
            File.WriteAllBytes(Path.Combine(img, "a.png"), [1, 2, 3]);
            Assert.Equal(2, cmd.Parse([img, "--model", Path.Combine(img, "00001000")]).Invoke());
        }
        finally
        {
            Directory.Delete(img, true);
        }
    }
}
