using System.CommandLine;
using Pipeline.Infra.Uploads;
using Pipeline.Worker.Cli;
using Pipeline.Worker.Cli.StyleGan2;

namespace Pipeline.Worker.Tests.Models;

/// <summary>Defaults that name models must name ones that exist: the bundled models under models/.</summary>
public class BundledModelDefaultsTests
{
    [Fact]
    public void UploadValidationDefaultsNameTheBundledModels()
    {
        var o = new UploadValidationOptions();
        // Blob models/<name> is the repository's models/<name>, which the demo publishes and docs/deploy.md uploads.
        Assert.True(File.Exists(Path.Combine(BundledModels.Folder, o.ProjectionModel["models/".Length..])), o.ProjectionModel);
        var council = Path.Combine(BundledModels.Folder, o.SelfieModel["models/".Length..]);
        Assert.True(Directory.Exists(council), o.SelfieModel);
        Assert.NotEmpty(Directory.GetFiles(council, "b2a_gen_*.pt"));
    }

    [Fact]
    public void CliModelOptionsDefaultToTheBundledModelOfTheirFamily()
    {
        var ckpt = Sg2Cli.Checkpoint();
        var parsed = new RootCommand { ckpt }.Parse([]);
        Assert.Empty(parsed.Errors);
        var file = parsed.GetValue(ckpt)!;
        Assert.True(file.Exists, file.FullName);
        Assert.Equal(Path.GetFullPath(BundledModels.StyleGan2), file.FullName);
        Assert.True(BundledModels.IsBundled(file.FullName));
        Assert.True(Directory.Exists(BundledModels.Council), BundledModels.Council);
    }

    [Fact]
    public void AnEncoderBesideTheGeneratorIsNotTakenForTheGenerator() =>
        Assert.DoesNotContain(".encoder.", Path.GetFileName(BundledModels.StyleGan2), StringComparison.Ordinal);
}
