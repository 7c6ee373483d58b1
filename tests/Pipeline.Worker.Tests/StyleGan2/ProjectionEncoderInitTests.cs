using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using System.Text.Json;
using Pipeline.Imaging.Synthetic;
using Pipeline.Worker.Cli.StyleGan2;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Shared;
using Pipeline.Worker.Jobs.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;
using Pipeline.Worker.Operations.Inputs;
using Pipeline.Worker.Operations.Projection;
using Pipeline.Worker.Operations.Imaging;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>
/// `--init encoder|mean` on the job path (encoder lookup next to the model blob, batched projection from the
/// encoder's W+) and on `pipeline project`, with a tiny 32 px generator and an untrained encoder.
/// </summary>
public sealed class ProjectionEncoderInitTests : IDisposable
{
    private readonly TinyStyleGan2Store _store = new("encinit-");
    private readonly Generator _g;
    private readonly StyleEncoder _encoder;
    private readonly string _ckpt;

    public ProjectionEncoderInitTests()
    {
        manual_seed(21);
        _g = new Generator(new GeneratorConfig(32, 16, 2, new Dictionary<int, int> { [4] = 16, [8] = 16, [16] = 8, [32] = 8 }));
        _g.eval();
        _encoder = new StyleEncoder(StyleEncoderConfig.For(_g.Config), randn(16));
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in _g.state_dict()) sd[k] = v;
        _ckpt = Path.Combine(_store.Root, "g32.pt");
        TorchFile.Save(_ckpt, new OrderedDictionary<string, object?> { ["g_ema"] = sd });
        EncoderCheckpoint.Save(EncoderCheckpoint.PathFor(_ckpt), _encoder, 1);
    }

    public void Dispose() => _store.Dispose();

    private async Task PublishAsync(bool withEncoder)
    {
        await _store.Store.PutBytesAsync("models/g32.pt", await File.ReadAllBytesAsync(_ckpt));
        if (withEncoder)
            await _store.Store.PutBytesAsync("models/g32.encoder.pt", await File.ReadAllBytesAsync(EncoderCheckpoint.PathFor(_ckpt)));
    }

    private static ProjectionJob Job(string? init) => new() { Model = new BlobRef("models/g32.pt"), Input = new BlobRef("uploads/x.png"), Init = init, Steps = 5 };

    [Fact]
    public async Task JobUsesTheEncoderNextToTheModelUnlessAskedForTheMean()
    {
        await PublishAsync(withEncoder: true);
        var ct = TestContext.Current.CancellationToken;
        using var auto = await ProjectionHandler.LoadEncoderAsync(_store.Models, Job(null), ct);
        Assert.NotNull(auto);
        Assert.Equal(_g.Config.NLatent, auto.Model.Config.NLatent);
        using var again = await ProjectionHandler.LoadEncoderAsync(_store.Models, Job("encoder"), ct);
        Assert.Same(auto.Model, again!.Model); // loaded once, kept warm
        Assert.Null(await ProjectionHandler.LoadEncoderAsync(_store.Models, Job("mean"), ct));
    }

    [Fact]
    public async Task JobWithoutAnEncoderFileStartsFromTheMeanOrFailsWhenTheEncoderIsRequired()
    {
        await PublishAsync(withEncoder: false);
        var ct = TestContext.Current.CancellationToken;
        Assert.Null(await ProjectionHandler.LoadEncoderAsync(_store.Models, Job(null), ct));
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => ProjectionHandler.LoadEncoderAsync(_store.Models, Job("encoder"), ct));
        Assert.Contains("encoder", e.Message);
        await Assert.ThrowsAsync<PermanentJobException>(() => ProjectionHandler.LoadEncoderAsync(_store.Models, Job("median"), ct));
    }

    [Fact]
    public async Task BatchedJobsStartFromTheEncodersPrediction()
    {
        var ct = TestContext.Current.CancellationToken;
        manual_seed(4);
        var targets = new[] { rand(3, 32, 32) * 2 - 1, rand(3, 32, 32) * 2 - 1 };
        // A window far longer than the test: the pair is one batch because the group fills (MaxBatch 2), however slow
        // the machine is between the two calls; a single job below passes a limit of 1 and runs at once.
        var batcher = new ProjectionBatcher { Window = TimeSpan.FromMinutes(2), MaxBatch = 2 };
        // Zero steps: the result is the start itself, which must be the encoder's W+ for each image.
        var zero = new ProjectorOptions { Steps = 0, WPlus = true, MseWeight = 1, NMeanLatent = 64 };
        var shares = await Task.WhenAll(targets.Select((t, i) => batcher.ProjectAsync(_g, zero, null, t, i, batcher.MaxBatch, ct, _encoder)));
        Assert.Equal(2, shares[0].BatchSize);
        for (int i = 0; i < 2; i++)
        {
            var expected = ProjectionInits.Encode(_encoder, targets[i].unsqueeze(0))[0];
            Assert.Equal([8L, 16], shares[i].Latent.shape);
            Assert.True(shares[i].Latent.allclose(expected, rtol: 0, atol: 1e-6), $"image {i}: start is not the encoder's W+");
        }
        // A few steps move it (the optimisation runs from there) and W+ is required.
        var few = zero with { Steps = 3 };
        var moved = await batcher.ProjectAsync(_g, few, null, targets[0], 0, 1, ct, _encoder);
        Assert.Equal(1, moved.BatchSize);
        Assert.False(moved.Latent.allclose(shares[0].Latent, rtol: 0, atol: 1e-6));
        await Assert.ThrowsAsync<ArgumentException>(() => batcher.ProjectAsync(_g, few with { WPlus = false }, null, targets[0], 0, 1, ct, _encoder));
    }

    [Fact]
    public void ProjectCommandStartsFromTheEncoderOrFromTheMeanWhenAsked()
    {
        var gen = Path.Combine(_store.Root, "gen");
        Assert.Equal(0, new GenerateCommand().Build().Parse(["--ckpt", _ckpt, "--seeds", "1", "--out", gen, "--device", "cpu"]).Invoke());
        var png = Path.Combine(gen, "seed0001.png");
        var encOut = Path.Combine(_store.Root, "enc");
        // --steps 0 keeps the start: the saved latent must equal the encoder's W+ of the loaded image.
        Assert.Equal(0, new ProjectCommand().Build().Parse([png, "--ckpt", _ckpt, "--init", "encoder", "--steps", "0", "--align-face", "false", "--out", encOut, "--device", "cpu"]).Invoke());
        var latent = Npy.Load(Path.Combine(encOut, "seed0001-latent.npy"));
        var expected = ProjectionInits.Encode(_encoder, ProjectionInput.Preprocess(InputImages.Decode(File.ReadAllBytes(png), limits: InputImages.LocalFiles), 32).unsqueeze(0))[0];
        Assert.True(latent.allclose(expected, rtol: 0, atol: 1e-5));
        var meanOut = Path.Combine(_store.Root, "mean");
        Assert.Equal(0, new ProjectCommand().Build().Parse([png, "--ckpt", _ckpt, "--init", "mean", "--steps", "0", "--align-face", "false", "--out", meanOut, "--device", "cpu"]).Invoke());
        Assert.Equal([16L], Npy.Load(Path.Combine(meanOut, "seed0001-latent.npy")).shape); // w, not W+, without --w-plus
        Assert.Equal(1, new ProjectCommand().Build().Parse([png, "--ckpt", _ckpt, "--init", "encoder", "--encoder", Path.Combine(_store.Root, "none.pt"), "--align-face", "false", "--out", meanOut, "--device", "cpu"]).Invoke());
    }
    /// <summary>Runs one projection job through <see cref="ProjectionHandler"/> as the job runner does; returns metrics, report and latent.</summary>
    private async Task<(IReadOnlyDictionary<string, double> Metrics, JsonElement Report, Tensor Latent, byte[] Png)> RunJobAsync(string? init, int? steps)
    {
        var ct = TestContext.Current.CancellationToken;
        var png = SyntheticFaces.DrawPng(5, FaceStyle.PhotoLike, 64);
        var props = await _store.Store.PutBytesAsync("uploads/face.png", png, cancellationToken: ct);
        var job = new ProjectionJob
        {
            Model = new BlobRef("models/g32.pt"), Input = new BlobRef("uploads/face.png", props.ETag), Init = init, Steps = steps,
            AlignFace = false, Seed = 3,
        };
        var cpu = new EngineDevice("cpu");
        var handler = new ProjectionHandler(cpu, new ProjectionBatcher { Window = TimeSpan.FromMilliseconds(10), MaxBatch = 1 }, new PerceptualLossProvider(cpu, FeatureNetworkLocation.Store()), new FacePreparation(new PipelineSettings()));
        Assert.True(handler.CanHandle(job));
        var context = new JobContext(JobEnvelope.Create(job, "test"), _store.Store, _store.Models, 1, 1);
        var metrics = await handler.RunAsync(context, ct);
        var report = JsonDocument.Parse((await _store.Store.GetBytesAsync(BlobLayout.Result(context.JobId, "projection.json"), ct))!.Value.Bytes).RootElement.Clone();
        var npy = Path.Combine(_store.Root, $"latent-{init}-{steps}.npy");
        await File.WriteAllBytesAsync(npy, (await _store.Store.GetBytesAsync(BlobLayout.Result(context.JobId, "latent.npy"), ct))!.Value.Bytes, ct);
        return (metrics, report, Npy.Load(npy), png);
    }

    [Fact]
    public async Task HandlerStartsAJobFromTheEncodersPredictionOfThePreprocessedUpload()
    {
        await PublishAsync(withEncoder: true);
        // One step: projector.py's learning rate is 0 at t = 0, so the saved latent is exactly where the job started.
        var (metrics, report, latent, png) = await RunJobAsync(null, 1);
        Assert.Equal(1, metrics["encoder_init"]);
        Assert.Equal("encoder", report.GetProperty("init").GetString());
        var target = ProjectionInput.Preprocess(InputImages.Decode(png), 32).unsqueeze(0);
        var expected = ProjectionInits.Encode(_encoder, target)[0];
        Assert.Equal(expected.shape, latent.shape);
        Assert.True(latent.allclose(expected, rtol: 0, atol: 1e-5), "the job did not start from the encoder's W+ of its input");
    }

    /// <summary>
    /// Same input, same answer (#20): one non-square file larger than the model (PNG, a JPEG, and a JPEG whose EXIF
    /// says "rotate 90°") projected by a job and by `pipeline project`. Both prepare it through ProjectionInput, so the
    /// job's target.png holds the CLI's target exactly and both start from the same encoder W+.
    /// </summary>
    [Theory]
    [InlineData("png", 0)]
    [InlineData("jpeg", 0)]
    [InlineData("jpeg", 6)]
    public async Task JobAndProjectCommandPrepareTheSameFileIdentically(string format, int exifOrientation)
    {
        await PublishAsync(withEncoder: true);
        var ct = TestContext.Current.CancellationToken;
        var stored = Pipeline.Imaging.Tests.Synth.Smooth(200, 120, seed: 3); // 5:3, bigger than the 32 px model
        var bytes = format == "png" ? stored.EncodePng() : stored.EncodeJpeg(92);
        if (exifOrientation != 0) bytes = Pipeline.Imaging.Tests.Synth.WithExifOrientation(bytes, exifOrientation);
        var file = Path.Combine(_store.Root, $"target.{format}");
        await File.WriteAllBytesAsync(file, bytes, ct);

        // The job: AlignFace off (a gradient has no face), one step (projector.py's lr is 0 at t = 0: the start is kept).
        var props = await _store.Store.PutBytesAsync("uploads/target", bytes, cancellationToken: ct);
        var job = new ProjectionJob { Model = new BlobRef("models/g32.pt"), Input = new BlobRef("uploads/target", props.ETag), Init = "encoder", Steps = 1, AlignFace = false, Seed = 3 };
        var cpu = new EngineDevice("cpu");
        var handler = new ProjectionHandler(cpu, new ProjectionBatcher { Window = TimeSpan.FromMilliseconds(10), MaxBatch = 1 }, new PerceptualLossProvider(cpu, FeatureNetworkLocation.Store()), new FacePreparation(new PipelineSettings()));
        var context = new JobContext(JobEnvelope.Create(job, "test"), _store.Store, _store.Models, 1, 1);
        await handler.RunAsync(context, ct);
        var jobTargetPng = (await _store.Store.GetBytesAsync(BlobLayout.Result(context.JobId, "target.png"), ct))!.Value.Bytes;
        var jobNpy = Path.Combine(_store.Root, $"job-{format}-{exifOrientation}.npy");
        await File.WriteAllBytesAsync(jobNpy, (await _store.Store.GetBytesAsync(BlobLayout.Result(context.JobId, "latent.npy"), ct))!.Value.Bytes, ct);

        // The CLI: its target preparation, and a zero-step projection of the same file.
        using var cliTarget = ProjectCommand.LoadTarget(new FileInfo(file), 32, alignFace: false, new FacePreparation(new PipelineSettings()));
        Assert.Equal([1L, 3, 32, 32], cliTarget.shape);
        Assert.Equal(jobTargetPng, GeneratorImages.EncodePng(cliTarget));
        // The tensor itself: bit-identical to the operation's preparation of the uploaded bytes.
        using var prepared = ProjectionInput.Prepare(bytes, false, 32, new FacePreparation(new PipelineSettings())).Target;
        Assert.True(cliTarget[0].eq(prepared).all().item<bool>(), "the CLI's target differs from the job's preparation");
        var outDir = Path.Combine(_store.Root, $"cli-{format}-{exifOrientation}");
        Assert.Equal(0, new ProjectCommand().Build().Parse([file, "--ckpt", _ckpt, "--init", "encoder", "--steps", "0", "--align-face", "false", "--out", outDir, "--device", "cpu"]).Invoke());
        var cliLatent = Npy.Load(Path.Combine(outDir, "target-latent.npy"));
        var jobLatent = Npy.Load(jobNpy);
        Assert.Equal(jobLatent.shape, cliLatent.shape);
        Assert.True(cliLatent.allclose(jobLatent, rtol: 0, atol: 1e-5), "the same file started from different latents in the job and in `pipeline project`");
        if (exifOrientation == 6)
        {
            // Orientation was applied (as the upload decoder does): the target is the centre of the upright, portrait image.
            using var unrotated = ProjectionInput.Preprocess(stored, 32);
            Assert.False(prepared.allclose(unrotated, rtol: 0, atol: 0.1));
        }
    }

    /// <summary>
    /// Same input, same answer past the start (#20): a few optimisation steps from the mean latent with the same seed
    /// give the same latent in a job and in `pipeline project` (same preparation, same per-image seeded draws, MSE loss).
    /// </summary>
    [Fact]
    public async Task JobAndProjectCommandReachTheSameLatentWithTheSameSeed()
    {
        await PublishAsync(withEncoder: false);
        var ct = TestContext.Current.CancellationToken;
        var bytes = Pipeline.Imaging.Tests.Synth.Smooth(90, 140, seed: 8).EncodePng();
        var file = Path.Combine(_store.Root, "tall.png");
        await File.WriteAllBytesAsync(file, bytes, ct);
        var props = await _store.Store.PutBytesAsync("uploads/tall.png", bytes, cancellationToken: ct);
        var job = new ProjectionJob { Model = new BlobRef("models/g32.pt"), Input = new BlobRef("uploads/tall.png", props.ETag), Init = "mean", Steps = 3, AlignFace = false, Seed = 5 };
        var cpu = new EngineDevice("cpu");
        // No LPIPS weights: the job fits MSE with weight 1, as the CLI does by default.
        var noWeights = new Pipeline.Engine.Metrics.FeatureNetworkStore(new Pipeline.Engine.Metrics.FeatureNetworkOptions { CacheDirectory = Path.Combine(_store.Root, "no-weights") });
        var handler = new ProjectionHandler(cpu, new ProjectionBatcher { Window = TimeSpan.FromMilliseconds(10), MaxBatch = 1 }, new PerceptualLossProvider(cpu, noWeights), new FacePreparation(new PipelineSettings()));
        var context = new JobContext(JobEnvelope.Create(job, "test"), _store.Store, _store.Models, 1, 1);
        await handler.RunAsync(context, ct);
        var jobNpy = Path.Combine(_store.Root, "job-steps.npy");
        await File.WriteAllBytesAsync(jobNpy, (await _store.Store.GetBytesAsync(BlobLayout.Result(context.JobId, "latent.npy"), ct))!.Value.Bytes, ct);

        var outDir = Path.Combine(_store.Root, "cli-steps");
        Assert.Equal(0, new ProjectCommand().Build().Parse([file, "--ckpt", _ckpt, "--init", "mean", "--steps", "3", "--seed", "5", "--align-face", "false", "--out", outDir, "--device", "cpu"]).Invoke());
        var cliLatent = Npy.Load(Path.Combine(outDir, "tall-latent.npy"));
        var jobLatent = Npy.Load(jobNpy);
        Assert.Equal(jobLatent.shape, cliLatent.shape);
        var diff = (cliLatent - jobLatent).abs().max().item<float>();
        Assert.True(diff < 1e-4, $"the same file, seed and options reached latents {diff} apart in the job and in `pipeline project`");
    }

    [Fact]
    public async Task HandlerRunsTheEncodersDefaultStepsAndTheMeanStartWhenAsked()
    {
        await PublishAsync(withEncoder: true);
        var (metrics, report, latent, _) = await RunJobAsync(null, null);
        Assert.Equal(100, metrics["steps"]); // the encoder's default length, not projector.py's 1000
        Assert.Equal(100, report.GetProperty("steps").GetInt32());
        // The encoder start's own schedule (ProjectionInits): no latent noise unless the job sets it.
        Assert.Equal((0.1, 0.0), (report.GetProperty("lr").GetDouble(), report.GetProperty("latentNoise").GetDouble()));
        Assert.Equal([(long)_g.Config.NLatent, 16], latent.shape);
        Assert.True(double.IsFinite(metrics["mse"]));

        var (meanMetrics, meanReport, meanLatent, _) = await RunJobAsync("mean", 2);
        Assert.Equal(0, meanMetrics["encoder_init"]);
        Assert.Equal("mean", meanReport.GetProperty("init").GetString());
        Assert.Equal((0.1, 0.05), (meanReport.GetProperty("lr").GetDouble(), meanReport.GetProperty("latentNoise").GetDouble())); // projector.py's
        Assert.Equal([16L], meanLatent.shape); // w: the job did not ask for W+ and nothing implied it
    }
    [Fact]
    public void TrainEncoderWritesACheckpointAndResumesFromIt()
    {
        var root = new System.CommandLine.RootCommand();
        foreach (var c in Pipeline.Worker.Cli.CliCommands.Discover()) root.Subcommands.Add(c.Build());
        var first = Path.Combine(_store.Root, "train1");
        string[] common = ["--generator", _ckpt, "--batch", "2", "--perceptual", "none", "--checkpoint-every", "100", "--device", "cpu"];
        Assert.Equal(0, root.Parse(["train", "encoder", .. common, "--iter", "3", "--out", first]).Invoke());
        var (trained, it) = EncoderCheckpoint.Load(Path.Combine(first, "encoder.pt"));
        Assert.Equal(3, it);
        Assert.Equal(_g.Config.NLatent, trained.Config.NLatent);

        // A second phase continues the count from the checkpoint (and with --iter 5 runs only two more steps), its
        // cosine schedule spans those two steps: 5e-4, then half of it, 0 at iteration 5.
        var second = Path.Combine(_store.Root, "train2");
        Assert.Equal(0, root.Parse(["train", "encoder", .. common, "--iter", "5", "--latent-weight", "0.02", "--lr-schedule", "cosine", "--resume", Path.Combine(first, "encoder.pt"), "--out", second]).Invoke());
        Assert.Equal(5, EncoderCheckpoint.Load(Path.Combine(second, "encoder.pt")).Iteration);
        var rows = File.ReadAllLines(Path.Combine(second, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([3L, 4], rows.Select(r => r.GetProperty("iter").GetInt64()));
        Assert.Equal([5e-4, 2.5e-4], rows.Select(r => Math.Round(r.GetProperty("lr").GetDouble(), 10)));
        Assert.True(new FileInfo(Path.Combine(second, "losses.png")).Length > 0);
        // A cosine schedule needs an end past the start.
        Assert.NotEqual(0, root.Parse(["train", "encoder", .. common, "--iter", "5", "--lr-schedule", "cosine", "--resume", Path.Combine(second, "encoder.pt"), "--out", Path.Combine(_store.Root, "train3")]).Invoke());
    }
}
