using Pipeline.Functions.Services;
using Pipeline.Infra.Contracts;

namespace Pipeline.Functions.Tests.Gallery;

public sealed class MoreLikeThisTests
{
    private static AugmentationBatchJob Source(AugmentationOp op, double psi = 0.7, long? baseSeed = null, string batch = "b") =>
        new() { Model = new BlobRef("models/m.pt"), BatchId = batch, Family = StyleGanFamily.StyleGan2, Operation = op, Truncation = psi, Seed = 10, Count = 4, BaseSeed = baseSeed, Size = 128, TruncationMeanSamples = 512 };

    [Fact]
    public void ASampleImageStaysUntruncated()
    {
        // The worker ignores Truncation for Sample batches, so the image was made at psi 1 whatever the field says.
        var job = MoreLikeThis.Job(Source(AugmentationOp.Sample, psi: 0.5), new DatasetItem("datasets/b/00002.png", 12), 2, "nearby");
        Assert.Equal(AugmentationOp.Sample, job.Operation);
        Assert.Equal(1, job.Truncation);
        var coarse = MoreLikeThis.Job(Source(AugmentationOp.Sample, psi: 0.5), new DatasetItem("datasets/b/00002.png", 12), 2, "coarse");
        Assert.Equal(1, coarse.Truncation);
        Assert.Equal(AugmentationOp.StyleMixing, coarse.Operation);
        Assert.Equal(4, coarse.MixingCrossover);
    }

    [Fact]
    public void AnImageOfAMoreLikeThisBatchKeepsItsBatchsAnchorAndTheModelSettings()
    {
        var job = MoreLikeThis.Job(Source(AugmentationOp.Truncation, baseSeed: 7), new DatasetItem("datasets/b/00001.png", 11), 1, "nearby");
        Assert.Equal(7, job.BaseSeed);
        Assert.Equal(12, job.Seed);
        Assert.Equal(128, job.Size);
        Assert.Equal(512, job.TruncationMeanSamples);
    }

    [Fact]
    public void BatchIdsStaySafeAndDistinctPerImageAndMode()
    {
        var longId = new string('a', BlobNames.MaxIdLength);
        var src = Source(AugmentationOp.Truncation, batch: longId);
        var ids = new[] { (0, "nearby"), (0, "coarse"), (1, "nearby") }
            .Select(x => MoreLikeThis.Job(src, new DatasetItem("p", x.Item1), x.Item1, x.Item2).BatchId).ToList();
        Assert.All(ids, id => Assert.True(BlobNames.IsSafeId(id, out var why), why));
        Assert.Equal(3, ids.Distinct().Count());
        Assert.Equal(JobIds.For(MoreLikeThis.Job(src, new DatasetItem("p", 0), 0, "nearby")), JobIds.For(MoreLikeThis.Job(src, new DatasetItem("p", 0), 0, "nearby")));
    }
}
