using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using Pipeline.Engine.StyleGan2;
using Pipeline.Tests;
using Pipeline.Worker.Jobs.Models;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Worker.Tests.Soak;

/// <summary>Loading a checkpoint leaves only the model's tensors alive: the unpickled tree is freed, not left to the GC.</summary>
[Collection(TensorCountCollection.Name)]
public sealed class CheckpointTreeTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("ckpt-tree-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly GeneratorConfig Tiny = new(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 4 });

    /// <summary>A train.py-like file: g_ema, an optimiser state full of tensors, and latent_avg.</summary>
    private string WriteStyleGan2()
    {
        manual_seed(1);
        using var g = new Generator(Tiny);
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in g.state_dict()) sd[k] = v;
        var optimiser = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in g.state_dict()) optimiser[k] = new List<object?> { zeros_like(v), ones_like(v) };
        var path = Path.Combine(_root, "sg2.pt");
        using var avg = randn(8);
        TorchFile.Save(path, new OrderedDictionary<string, object?> { ["g_ema"] = sd, ["g_optim"] = optimiser, ["latent_avg"] = avg });
        return path;
    }

    [Fact]
    public void StyleGan2LoadKeepsOnlyTheGeneratorAndLatentAverage()
    {
        var path = WriteStyleGan2();
        int inTree = CheckpointTrees.DisposeTensors(TorchFile.Load(path));
        Assert.True(inTree > 100, $"the test file should hold many tensors, not {inTree}");

        Generator? bare = null;
        StyleGan2Checkpoint? loaded = null;
        try
        {
            long model = LiveTensors.Added(() => bare = new Generator(Tiny));
            long load = LiveTensors.Added(() => loaded = StyleGan2Checkpoint.Load(path));
            Assert.Equal(model + 1, load); // + latent_avg
            Assert.NotNull(loaded!.LatentAvg);
            Assert.False(loaded.LatentAvg!.IsInvalid);
            Assert.Equal(ModelSize.Estimate(bare!), ModelSize.Estimate(loaded.GEma!));
            Assert.Equal(ModelSize.Estimate(bare!) + 8 * 4, ModelSize.Estimate(loaded));

            // Disposing the checkpoint frees what it holds: the generator's parameters and buffers, and latent_avg.
            long held = loaded.GEma!.parameters().Count() + loaded.GEma.buffers().Count() + 1;
            Assert.Equal(held, -LiveTensors.Added(loaded.Dispose));
        }
        finally
        {
            bare?.Dispose();
            loaded?.Dispose();
        }
    }

    [Fact]
    public void StyleGan1GeneratorOutlivesItsDisposedCheckpointAlone()
    {
        var path = Directory.GetDirectories(TestPaths.RequireFixtureDir("stylegan1")).Order(StringComparer.Ordinal)
            .Select(d => Path.Combine(d, "weights.model")).FirstOrDefault(File.Exists);
        Requirement.SkipUnless(path is not null, "no StyleGAN v1 fixture checkpoint (weights.model)");
        StyledGenerator? bare = null, loaded = null;
        try
        {
            StyleGan1GeneratorConfig config;
            using (var probe = StyleGan1Checkpoint.Load(path!)) config = StyleGan1GeneratorConfig.Infer(probe.GRunning ?? probe.GeneratorState!);
            long model = LiveTensors.Added(() => bare = new StyledGenerator(config));
            long load = LiveTensors.Added(() =>
            {
                using var checkpoint = StyleGan1Checkpoint.Load(path!);
                loaded = checkpoint.CreateGenerator();
            });
            Assert.Equal(model, load);
        }
        finally
        {
            bare?.Dispose();
            loaded?.Dispose();
        }
    }
}
