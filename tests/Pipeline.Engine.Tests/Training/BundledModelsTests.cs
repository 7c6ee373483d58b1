using System.Security.Cryptography;
using Pipeline.Engine.Council;
using Pipeline.Engine.StyleGan2;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Training;

/// <summary>The small models committed under models/ load through the public loaders, match their .sha256 and produce images.</summary>
public sealed class BundledModelsTests
{
    private static string Models => Path.Combine(TestPaths.RepoRoot, "models");

    public static TheoryData<string> Files() =>
        [.. Directory.Exists(Models) ? Directory.EnumerateFiles(Models, "*.sha256", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(Models, f)) : []];

    [Theory, MemberData(nameof(Files))]
    public void Checksums_match(string shaFile)
    {
        var path = Path.Combine(Models, shaFile);
        var expected = File.ReadAllText(path).Split(' ', 2)[0].Trim();
        var data = path[..^".sha256".Length];
        Assert.Equal(expected, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(data))));
    }

    [Fact]
    public void StyleGan2_faces_generates_a_batch()
    {
        var ckpt = StyleGan2Checkpoint.Load(Path.Combine(Models, "stylegan2-synthfaces-32.pt"));
        Assert.NotNull(ckpt.TruncationLatent);
        using var _ = no_grad();
        manual_seed(0);
        var (img, _) = ckpt.Generator.Forward([randn(4, ckpt.Generator.Config.StyleDim)],
            new GenerateOptions { Truncation = 0.7, TruncationLatent = ckpt.TruncationLatent, RandomizeNoise = false });
        Assert.Equal([4L, 3, 32, 32], img.shape);
        Assert.True(img.isfinite().all().item<bool>());
        // Distinct latents give distinct images (a collapsed or constant generator would not).
        Assert.True((img[0] - img[1]).abs().mean().item<float>() > 1e-3);
    }

    [Fact]
    public void Council_faces_translates_a_batch()
    {
        var dir = Path.Combine(Models, "council-synthfaces-32");
        var step = Directory.EnumerateFiles(dir, "b2a_gen_0_*.pt").Select(f => Path.GetFileNameWithoutExtension(f)[^8..]).Single();
        using var translator = CouncilTranslator.Load(Path.Combine(dir, step));
        Assert.Equal(32, translator.Size);
        Assert.True(translator.Members.Count >= 2);
        var rnd = new Random(3);
        var pixels = new byte[48 * 40 * 3];
        rnd.NextBytes(pixels);
        using var t = translator.Translate(new RgbImage(48, 40, pixels), 0, new TranslateOptions { NumStyles = 3, Member = 1 });
        Assert.Equal([3L, 3, 32, 32], t.Outputs.shape);
        Assert.True(t.Outputs.isfinite().all().item<bool>());
    }
}
