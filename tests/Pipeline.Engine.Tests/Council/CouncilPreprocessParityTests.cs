using System.Text.RegularExpressions;
using Pipeline.Engine.Council;
using Pipeline.Imaging;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Council;

/// <summary>
/// The weight-free half of the folder test, on every inference case: PNG decode, PIL-exact resize + center crop,
/// normalisation, the seeded z codes and the min-max bytes of the saved input. (The full case, networks included,
/// is in <see cref="CouncilParityTests"/>; this one localises a failure to the image side.)
/// </summary>
public partial class CouncilPreprocessParityTests
{
    public static TheoryData<string> Cases()
    {
        var root = TestPaths.FixtureRoot;
        var cases = TestPaths.FixtureCases("council", "manifest.json")
            .Where(c => File.ReadAllText(Path.Combine(root!, "council", c, "manifest.json")).Contains(".resized_u8", StringComparison.Ordinal))
            .ToList();
        return new TheoryData<string>(cases.Count > 0 ? cases : ["(no council inference fixtures)"]);
    }

    [GeneratedRegex(@"^img(\d+)\.resized_u8$")]
    private static partial Regex Resized();

    [Theory, Trait("Category", "Parity")]
    [MemberData(nameof(Cases))]
    public void ImagesAndNoise(string name)
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("council"), name);
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "manifest.json")), $"No council inference fixture cases: {dir} has no manifest.json");
        using var scope = NewDisposeScope();
        using var fx = new CouncilFixture(dir);
        int count = fx.Manifest.Keys.Count(k => Resized().IsMatch(k));
        if (count == 0) Requirement.Skip($"Council fixture case {name} mentions .resized_u8 but stores no img<n>.resized_u8 tensor");
        var images = Directory.GetFiles(dir, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(count, images.Length);
        int size = fx.Config.NewSize;
        for (int n = 0; n < count; n++)
        {
            var p = $"img{n}.";
            var img = TestImages.DecodeRgb(images[n]);
            fx.AssertClose(p + "input_u8", tensor(img.Pixels, [img.Height, img.Width, 3], ScalarType.Byte));
            var resized = TorchvisionTransforms.ResizeAndCenterCrop(img, size, size, size);
            fx.AssertClose(p + "resized_u8", tensor(resized.Pixels, [resized.Height, resized.Width, 3], ScalarType.Byte));
            var x = ImageTensors.ToInput(resized);
            fx.AssertClose(p + "x", x);
            fx.AssertClose(p + "input_saved_u8", ImageTensors.ToBytes(x, OutputMapping.MinMax)[0]);
            var style = fx.Get(p + "style");
            using var g = new TorchSharp.torch.Generator((ulong)(n + 2));
            fx.AssertClose(p + "style", randn(style.shape, generator: g));
        }
    }
}
