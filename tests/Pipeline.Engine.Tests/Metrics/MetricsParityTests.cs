namespace Pipeline.Engine.Tests.Metrics;

/// <summary>
/// Walks every check of every metrics fixture (metrics/*/manifest.json) and dispatches on the fixture kind; the check's
/// inputs, expected values and tolerances all come from the manifest. An unknown fixture kind or check fails loudly.
/// </summary>
[Trait("Category", "Parity")]
public class MetricsParityTests
{
    public static TheoryData<string, string> Checks() => MetricsFixture.AllChecks();

    [Theory]
    [MemberData(nameof(Checks))]
    public void Check(string fixture, string check)
    {
        if (fixture == MetricsFixture.NoFixtures) MetricsFixture.ReportMissing();
        var fx = MetricsFixture.Open(fixture);
        var c = fx.Check(check);
        switch (fx.Kind)
        {
            case "fid_preprocess": FidChecks.Preprocess(fx, c); break;
            case "fid_inception_blocks": FidChecks.Block(fx, c); break;
            case "fid_inception_full": FidChecks.Full(fx, c); break;
            case "fid_frechet": FrechetChecks.Run(fx, c); break;
            case "lpips_vgg": LpipsChecks.Run(fx, c); break;
            case "ppl": PplChecks.Run(fx, c); break;
            case "kid": KidChecks.Run(fx, c); break;
            default: Assert.Fail($"unknown metrics fixture kind '{fx.Kind}' in {fx.Dir}: this suite has no handler for it"); break;
        }
    }

    [Fact]
    public void FixturesArePresent()
    {
        var dir = Pipeline.Tests.TestPaths.RequireFixtureDir("metrics");
        Assert.NotEmpty(Pipeline.Tests.TestPaths.FixtureCases("metrics", "manifest.json"));
        Assert.True(Directory.GetDirectories(dir).Length > 0);
    }
}
