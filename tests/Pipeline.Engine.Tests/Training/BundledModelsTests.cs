using System.Security.Cryptography;
using Pipeline.Engine.Council;
using Pipeline.Engine.StyleGan2;
using Pipeline.Imaging;
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

    public static TheoryData<string> StyleGan2Models() =>
        [.. Directory.Exists(Models) ? Directory.EnumerateFiles(Models, "stylegan2-*.pt").Where(f => !f.EndsWith(".encoder.pt", StringComparison.Ordinal)).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal) : Enumerable.Empty<string>()];

    /// <summary>Encoders bundled next to their generators (&lt;model&gt;.encoder.pt).</summary>
    public static TheoryData<string> Encoders() =>
        [.. Directory.Exists(Models) ? Directory.EnumerateFiles(Models, "*.encoder.pt").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal) : Enumerable.Empty<string>()];

    public static TheoryData<string> Councils() =>
        [.. Directory.Exists(Models) ? Directory.EnumerateDirectories(Models, "council-*").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal) : Enumerable.Empty<string>()];

    [Fact]
    public void The_demo_has_a_bundled_generator_and_council()
    {
        Assert.NotEmpty(StyleGan2Models());
        Assert.NotEmpty(Councils());
    }

    [Theory, MemberData(nameof(StyleGan2Models))]
    public void StyleGan2_generates_a_batch(string file)
    {
        var ckpt = StyleGan2Checkpoint.Load(Path.Combine(Models, file));
        Assert.NotNull(ckpt.TruncationLatent);
        int size = ckpt.Generator.Config.Size;
        Assert.Contains($"-{size}.pt", file, StringComparison.Ordinal); // the file is named after what it is
        using var _ = no_grad();
        manual_seed(0);
        var (img, _) = ckpt.Generator.Forward([randn(4, ckpt.Generator.Config.StyleDim)],
            new GenerateOptions { Truncation = 0.7, TruncationLatent = ckpt.TruncationLatent, RandomizeNoise = false });
        Assert.Equal([4L, 3, size, size], img.shape);
        Assert.True(img.isfinite().all().item<bool>());
        // Distinct latents give distinct images (a collapsed or constant generator would not).
        Assert.True((img[0] - img[1]).abs().mean().item<float>() > 1e-3);
    }

    [Theory, MemberData(nameof(Encoders))]
    public void Encoder_inverts_its_generator_better_than_the_mean_latent(string file)
    {
        var path = Path.Combine(Models, file);
        var generatorFile = path[..^".encoder.pt".Length] + ".pt";
        Assert.True(File.Exists(generatorFile), $"{file} has no generator {Path.GetFileName(generatorFile)} next to it");
        var g = StyleGan2Checkpoint.Load(generatorFile).Generator;
        var (encoder, iteration) = Pipeline.Engine.StyleGan2.Encoder.EncoderCheckpoint.Load(path); // strict: every key, no extras
        Assert.True(iteration > 0);
        Assert.Equal((g.Config.NLatent, g.Config.StyleDim, Math.Min(g.Config.Size, 256)), (encoder.Config.NLatent, encoder.Config.StyleDim, encoder.Config.Size));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        // Samples from seeds the training stream did not draw (a separate seeded generator), stored noise, psi 1.
        using var gen = new TorchSharp.torch.Generator(424242UL, CPU);
        var x = g.Forward([randn([8, g.Config.StyleDim], generator: gen)], new GenerateOptions { RandomizeNoise = false }).Image.clamp(-1, 1);
        var opts = new GenerateOptions { InputIsLatent = true, RandomizeNoise = false };
        var fromEncoder = g.Forward([encoder.forward(x)], opts).Image;
        var fromMean = g.Forward([encoder.LatentAvg.unsqueeze(0).expand(8, -1, -1)], opts).Image;
        double encMse = (fromEncoder - x).square().mean().item<float>(), meanMse = (fromMean - x).square().mean().item<float>();
        // A trained encoder must do much better than its own zero-offset output; an untrained one gives about the same.
        Assert.True(encMse < 0.5 * meanMse, $"encoder reconstruction MSE {encMse:G4} vs mean latent {meanMse:G4}");
    }

    [Theory, MemberData(nameof(Councils))]
    public void Council_translates_a_batch(string folder)
    {
        var dir = Path.Combine(Models, folder);
        var step = Directory.EnumerateFiles(dir, "b2a_gen_0_*.pt").Select(f => Path.GetFileNameWithoutExtension(f)[^8..]).Single();
        using var translator = CouncilTranslator.Load(Path.Combine(dir, step));
        Assert.EndsWith($"-{translator.Size}", folder, StringComparison.Ordinal);
        Assert.True(translator.Members.Count >= 2);
        var rnd = new Random(3);
        var pixels = new byte[48 * 40 * 3];
        rnd.NextBytes(pixels);
        using var t = translator.Translate(new RgbImage(48, 40, pixels), 0, new TranslateOptions { NumStyles = 3, Member = 1 });
        Assert.Equal([3L, 3, translator.Size, translator.Size], t.Outputs.shape);
        Assert.True(t.Outputs.isfinite().all().item<bool>());
    }
}
