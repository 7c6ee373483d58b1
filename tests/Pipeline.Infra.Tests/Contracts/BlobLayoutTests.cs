using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Tests.Contracts;

public sealed class BlobLayoutTests
{
    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("a/./b")]
    [InlineData("/etc/passwd")]
    [InlineData("C:/windows")]
    [InlineData("a\\b")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("")]
    [InlineData("a\u0000b")]
    [InlineData("a\nb")]
    [InlineData("..")]
    [InlineData("a/b.")]
    [InlineData(" a")]
    [InlineData("a?b")]
    public void Unsafe_relative_names_are_refused(string name)
    {
        Assert.False(BlobNames.IsSafeRelative(name, out var why));
        Assert.NotEmpty(why);
        Assert.Throws<ArgumentException>(() => BlobLayout.Upload(name));
        Assert.Throws<ArgumentException>(() => BlobLayout.Rejection(name));
    }

    [Fact]
    public void Overlong_names_and_ids_are_refused()
    {
        Assert.False(BlobNames.IsSafeRelative(new string('a', BlobNames.MaxRelativeLength + 1), out _));
        Assert.True(BlobNames.IsSafeRelative(new string('a', BlobNames.MaxRelativeLength), out _));
        Assert.False(BlobNames.IsSafeId(new string('a', 129), out _));
        Assert.False(BlobNames.IsSafeRelative(string.Join('/', Enumerable.Repeat("a", 17)), out _));
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("-rf")]
    [InlineData("a b")]
    [InlineData("ü")]
    public void Unsafe_ids_are_refused(string id)
    {
        Assert.False(BlobNames.IsSafeId(id, out _));
        Assert.Throws<ArgumentException>(() => BlobLayout.StatusDocument(id));
        Assert.Throws<ArgumentException>(() => BlobLayout.ResultsPrefix(id));
        Assert.Throws<ArgumentException>(() => BlobLayout.DatasetManifest(id));
        Assert.Throws<ArgumentException>(() => BlobLayout.MetricLog(id));
    }

    [Fact]
    public void Layout_paths_are_under_their_area()
    {
        Assert.Equal("uploads/selfies/me 1.jpg", BlobLayout.Upload("selfies/me 1.jpg"));
        Assert.Equal("selfies/me 1.jpg", BlobLayout.UploadIdOf("uploads/selfies/me 1.jpg"));
        Assert.Equal("results/prj-abc/latent.npy", BlobLayout.Result("prj-abc", "latent.npy"));
        Assert.Equal("results/prj-abc/result.json", BlobLayout.ResultDocument("prj-abc"));
        Assert.Equal("rejected/selfies/me.jpg.json", BlobLayout.Rejection("selfies/me.jpg"));
        Assert.Equal("status/prj-abc.json", BlobLayout.StatusDocument("prj-abc"));
        Assert.Equal("datasets/b1/manifest.json", BlobLayout.DatasetManifest("b1"));
        Assert.Equal("datasets/b1/000001.png", BlobLayout.DatasetItem("b1", "000001.png"));
        Assert.Equal("metrics/fid50k_full/all.jsonl", BlobLayout.MetricLog("fid50k_full"));
        Assert.Equal("models/stylegan2.pt.sha256", BlobLayout.ModelHash("stylegan2.pt"));
        Assert.Equal(("results", "x/y"), BlobLayout.Split("results/x/y"));
        Assert.Throws<ArgumentException>(() => BlobLayout.Split("secrets/x"));
        Assert.Throws<ArgumentException>(() => BlobLayout.Split("results"));
        Assert.Throws<ArgumentException>(() => BlobLayout.UploadIdOf("results/x"));
        Assert.Throws<ArgumentException>(() => BlobLayout.Result("prj-abc", "../../status/x.json"));
        Assert.Equal(("results", ""), BlobLayout.SplitPrefix("results"));
        Assert.Equal(("results", "j1/"), BlobLayout.SplitPrefix("results/j1/"));
        Assert.Throws<ArgumentException>(() => BlobLayout.SplitPrefix("results/../status"));
        Assert.Throws<ArgumentException>(() => BlobLayout.SplitPrefix("nope/"));
    }
}
