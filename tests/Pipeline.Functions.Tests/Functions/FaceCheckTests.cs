using Pipeline.Imaging.Faces;
using Pipeline.Tests;

namespace Pipeline.Functions.Tests.Functions;

/// <summary>The face check of selfie jobs, on real photographs (fixtures/images) with Debian's Haar cascade.</summary>
public sealed class FaceCheckTests
{
    private static byte[] Photo(string name)
    {
        Requirement.SkipUnless(File.Exists(HaarCascade.DebianFrontalFaceAlt2),
            $"Face cascade missing ({HaarCascade.DebianFrontalFaceAlt2}); build/prereqs.d/20-faces.sh installs opencv-data.");
        var path = Path.Combine(TestPaths.RequireFixtureDir("images"), name);
        Requirement.SkipUnless(File.Exists(path), $"Fixture photo {path} is missing.");
        return File.ReadAllBytes(path);
    }

    [Theory]
    [InlineData("astronaut.png", true, null)]
    [InlineData("coffee.png", false, "no_face")]
    [InlineData("chelsea.png", false, "no_face")]
    public async Task SelfieJobsNeedAFace(string photo, bool accepted, string? code)
    {
        var bytes = Photo(photo);
        await using var host = new FunctionsHost(s => s["Pipeline:Uploads:FaceDetection"] = "on");
        var verdict = (await host.UploadAsync("selfies/" + photo, bytes, contentType: "image/png")).Verdict;
        Assert.Equal(accepted, verdict.Accepted);
        Assert.Equal(code, verdict.Code);
        Assert.Equal(accepted ? 1 : 0, (await host.PeekAllAsync("jobs-translate")).Count);
    }

    [Fact]
    public async Task ProjectionJobsDoNotNeedAFace()
    {
        var bytes = Photo("coffee.png");
        await using var host = new FunctionsHost(s => s["Pipeline:Uploads:FaceDetection"] = "on");
        var verdict = (await host.UploadAsync("project/coffee.png", bytes, contentType: "image/png")).Verdict;
        Assert.True(verdict.Accepted, verdict.Message);
        Assert.Single(await host.PeekAllAsync("jobs-project"));
    }
}
