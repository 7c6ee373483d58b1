using System.CommandLine;
using Pipeline.Engine.Metrics.Fid;
using Pipeline.Engine.Metrics.Kid;
using Pipeline.Tests;
using Pipeline.Worker.Cli;
using Pipeline.Worker.Cli.Metrics;
using static TorchSharp.torch;

namespace Pipeline.Worker.Tests.Metrics;

/// <summary>The metric commands as a user runs them (parsed and invoked through System.CommandLine).</summary>
public sealed class MetricsCliTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "metrics-cli-" + Guid.NewGuid().ToString("N"));

    public MetricsCliTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Task<int> Run(ICliCommand command, params string[] args) => Run(command, new StringWriter(), args);

    /// <summary>The command's printed lines go to <paramref name="output"/>, not to the process-wide Console.Out.</summary>
    private static Task<int> Run(ICliCommand command, TextWriter output, params string[] args)
    {
        var root = new RootCommand { command.Build() };
        return root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output }, TestContext.Current.CancellationToken);
    }

    private string StatsFile(string name, double shift)
    {
        using var scope = NewDisposeScope();
        var x = randn([40, 6], dtype: ScalarType.Float64, generator: new TorchSharp.torch.Generator(1)) + shift;
        var path = Path.Combine(dir, name);
        FidStatsFile.Save(path, GaussianStats.Of(x));
        return path;
    }

    [Fact]
    public async Task FidOfTwoStatisticsFilesNeedsNoWeights()
    {
        var a = StatsFile("a.npz", 0);
        var b = StatsFile("b.npz", 1);
        var printed = await RunCapturingAsync(new FidCommand(), "fid", a, b, "--models-dir", Path.Combine(dir, "none"));
        // Same features shifted by 1 in each of 6 dims: FID = ||mu1 - mu2||^2 = 6 (covariances equal).
        var line = printed.Trim().Split('\n').Last();
        Assert.StartsWith("FID: ", line, StringComparison.Ordinal);
        Assert.Equal(6.0, double.Parse(line["FID: ".Length..], System.Globalization.CultureInfo.InvariantCulture), 1e-9);
    }

    /// <summary>Runs the command as a user would, asserts exit code 0, and returns what it printed (MetricsSamePathTests too).</summary>
    internal static async Task<string> RunCapturingAsync(ICliCommand command, params string[] args)
    {
        var output = new StringWriter();
        Assert.Equal(0, await Run(command, output, args));
        return output.ToString();
    }

    [Fact]
    public async Task KidOfTwoFeatureFilesIsTheEstimatorWithAAsFeats1AndNeedsNoWeights()
    {
        string a = Path.Combine(dir, "a.npz"), b = Path.Combine(dir, "b.npz");
        double expected;
        // Tensors only inside this block: a dispose scope must not span the awaits below (scopes are per thread, and
        // another test continuing on this thread would have its tensors freed with ours).
        using (NewDisposeScope())
        {
            // Unequal set sizes: which file is feats1 changes the seeded draws, so the order is pinned by the value.
            var fa = randn([30, 6], dtype: ScalarType.Float32, generator: new TorchSharp.torch.Generator(4));
            var fb = randn([45, 6], dtype: ScalarType.Float32, generator: new TorchSharp.torch.Generator(5)) + 0.5f;
            FidStatsFile.Save(a, GaussianStats.Of(fa), features: fa);
            FidStatsFile.Save(b, GaussianStats.Of(fb), features: fb);
            var o = new KidOptions { NumSubsets = 7, MaxSubsetSize = 20, Seed = 3 };
            expected = KernelInceptionDistance.Compute(fa, fb, o).Value;
            Assert.NotEqual(expected, KernelInceptionDistance.Compute(fb, fa, o).Value);
        }

        var printed = await RunCapturingAsync(new KidCommand(), "kid", a, b, "--subsets", "7", "--max-subset-size", "20", "--seed", "3", "--models-dir", Path.Combine(dir, "none"));
        var line = printed.Trim().Split('\n').Last();
        Assert.StartsWith("KID: ", line, StringComparison.Ordinal);
        Assert.Equal(expected, double.Parse(line["KID: ".Length..], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("7 subsets of 20 rows", printed, StringComparison.Ordinal);

        // mu/sigma alone cannot give KID: a one-line error with exit code 1, not a number.
        Assert.Equal(1, await Run(new KidCommand(), "kid", a, StatsFile("mu-sigma.npz", 0), "--models-dir", Path.Combine(dir, "none")));
    }

    [Fact]
    public async Task FolderSideWithoutInceptionWeightsIsSkippedWithExitCode2()
    {
        var images = Directory.CreateDirectory(Path.Combine(dir, "imgs")).FullName;
        Assert.Equal(2, await Run(new FidCommand(), "fid", images, StatsFile("ref.npz", 0), "--models-dir", Path.Combine(dir, "none")));
        Assert.Equal(2, await Run(new StatsCommand(), "stats", images, "-o", Path.Combine(dir, "out.npz"), "--models-dir", Path.Combine(dir, "none")));
        Assert.Equal(2, await Run(new StatsCommand(), "stats", images, "-o", Path.Combine(dir, "out.npz"), "--features", "--models-dir", Path.Combine(dir, "none")));
        Assert.False(File.Exists(Path.Combine(dir, "out.npz")));
        Assert.Equal(2, await Run(new KidCommand(), "kid", images, StatsFile("ref.npz", 0), "--models-dir", Path.Combine(dir, "none")));
    }

    private sealed class SquaredL2 : Pipeline.Engine.IPerceptualLoss
    {
        public Tensor Distance(Tensor a, Tensor b) => (a - b).square().flatten(1).sum(1);
    }

    [Fact]
    public void PplRunsOnAStyleGan2Checkpoint()
    {
        var ckpt = Path.Combine(Pipeline.Tests.TestPaths.RequireFixtureDir("stylegan2"), "ppl_parts", "weights.pt");
        Requirement.SkipUnless(File.Exists(ckpt), $"Fixture checkpoint {ckpt} (stylegan2/ppl_parts/weights.pt) not present");
        using var scope = NewDisposeScope();
        var g = Pipeline.Engine.StyleGan2.StyleGan2Checkpoint.Load(ckpt).Generator;
        g.eval();
        manual_seed(3);
        var o = new Pipeline.Engine.Metrics.Ppl.PplOptions { Samples = 5, Batch = 2, Crop = true };
        var r = Pipeline.Engine.Metrics.Ppl.PerceptualPathLength.Run(Pipeline.Engine.StyleGan2.StyleGan2Metrics.ForPpl(g), new SquaredL2(), o, CPU, ct: TestContext.Current.CancellationToken);
        Assert.Equal(5, r.Distances.Length);
        Assert.All(r.Distances, d => Assert.True(double.IsFinite(d) && d > 0));
    }

    [Fact]
    public void MetricCommandsAreDiscovered()
    {
        var names = CliCommands.Discover().Select(c => c.Build().Name).ToArray();
        foreach (var n in new[] { "fid", "kid", "stats", "lpips", "models", "ppl" }) Assert.Contains(n, names);
        var bench = new BenchCommand().Build();
        Assert.Contains(bench.Subcommands, c => c.Name == "fid");
    }
}
