using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.StyleGan1;
using Pipeline.Worker.Jobs.StyleGan2;

namespace Pipeline.Worker.Tests.Jobs;

/// <summary>BaseSeed/Variation settings that cannot work fail permanently, with a message that says why, in both families.</summary>
public sealed class MoreLikeThisValidationTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mlt-").FullName;
    private readonly FileSystemBlobStore _store;
    private readonly ModelCache _models;

    public MoreLikeThisValidationTests()
    {
        _store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = _root });
        _models = new ModelCache(_store, Path.Combine(_root, ".cache"));
    }

    public void Dispose()
    {
        _models.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    public static TheoryData<StyleGanFamily, AugmentationOp, long?, double?, string> Invalid() => new()
    {
        { StyleGanFamily.StyleGan2, AugmentationOp.SoatPanorama, 7, null, "BaseSeed ('more like this') works with Sample, Truncation and StyleMixing" },
        { StyleGanFamily.StyleGan2, AugmentationOp.SoatBlend, 7, 0.5, "BaseSeed ('more like this') works with Sample, Truncation and StyleMixing" },
        { StyleGanFamily.StyleGan2, AugmentationOp.Sample, null, 0.5, "needs a BaseSeed" },
        { StyleGanFamily.StyleGan2, AugmentationOp.Truncation, 7, 0.0, "Variation must be in (0, 1]" },
        { StyleGanFamily.StyleGan2, AugmentationOp.StyleMixing, 7, 1.5, "Variation must be in (0, 1]" },
        { StyleGanFamily.StyleGan2, AugmentationOp.Sample, 7, -0.2, "Variation must be in (0, 1]" },
        { StyleGanFamily.StyleGan1, AugmentationOp.Sample, null, 0.3, "needs a BaseSeed" },
        { StyleGanFamily.StyleGan1, AugmentationOp.StyleMixing, 7, 1.01, "Variation must be in (0, 1]" },
        { StyleGanFamily.StyleGan1, AugmentationOp.SoatPanorama, 7, null, "StyleGAN2" },
    };

    [Theory, MemberData(nameof(Invalid))]
    public async Task InvalidSettingsArePermanentFailures(StyleGanFamily family, AugmentationOp op, long? baseSeed, double? variation, string message)
    {
        // The model blob does not exist: validation must fail before anything is downloaded.
        var job = new AugmentationBatchJob
        {
            Model = new BlobRef("models/none.pt"), BatchId = "bad", Family = family, Operation = op, Count = 2, BaseSeed = baseSeed, Variation = variation,
        };
        IJobHandler handler = family == StyleGanFamily.StyleGan1 ? new StyleGan1AugmentationHandler(new EngineDevice("cpu")) : new StyleGan2AugmentationHandler(new EngineDevice("cpu"));
        Assert.True(handler.CanHandle(job));
        var context = new JobContext(JobEnvelope.Create(job, "test"), _store, _models, 1, 4);
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => handler.RunAsync(context, TestContext.Current.CancellationToken));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Null(await _store.GetBytesAsync(BlobLayout.DatasetManifest("bad"), TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData(StyleGanFamily.StyleGan1, 0)]
    [InlineData(StyleGanFamily.StyleGan1, JobLimits.MaxAugmentationCount + 1)]
    [InlineData(StyleGanFamily.StyleGan2, 0)]
    [InlineData(StyleGanFamily.StyleGan2, JobLimits.MaxAugmentationCount + 1)]
    public async Task BothFamiliesRefuseCountsOutsideTheOneJobLimit(StyleGanFamily family, int count)
    {
        // StyleGAN v1 batches once had no upper bound at all; the bound is JobLimits', the same one the timer function checks.
        var job = new AugmentationBatchJob { Model = new BlobRef("models/none.pt"), BatchId = "big", Family = family, Operation = AugmentationOp.Sample, Count = count };
        IJobHandler handler = family == StyleGanFamily.StyleGan1 ? new StyleGan1AugmentationHandler(new EngineDevice("cpu")) : new StyleGan2AugmentationHandler(new EngineDevice("cpu"));
        var context = new JobContext(JobEnvelope.Create(job, "test"), _store, _models, 1, 4);
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => handler.RunAsync(context, TestContext.Current.CancellationToken));
        Assert.Equal(JobLimits.CheckAugmentationCount(count), e.Message);
        Assert.Contains($"1..{JobLimits.MaxAugmentationCount}", e.Message, StringComparison.Ordinal);
    }
}
