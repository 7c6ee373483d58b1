using System.Text;
using Pipeline.Engine.IO;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.IO;

public class FormatRoundTripTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pipeline-io-").FullName;

    public void Dispose()
    {
        Directory.Delete(_dir, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Fact]
    public void SafeTensorsRoundTripKeepsDtypesShapesValuesAndMetadata()
    {
        using var scope = NewDisposeScope();
        var a = randn(3, 4, 5);
        var b = arange(10, dtype: ScalarType.Int64).reshape(2, 5);
        var c = randn(7).to(ScalarType.BFloat16);
        var path = Path.Combine(_dir, "x.safetensors");
        SafeTensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b, ["c"] = c }, new Dictionary<string, string> { ["k"] = "v" });
        var (loaded, meta) = SafeTensors.LoadWithMetadata(path);
        Assert.Equal("v", meta["k"]);
        Assert.True(Same(loaded["a"], a));
        Assert.True(Same(loaded["b"], b));
        Assert.Equal(ScalarType.BFloat16, loaded["c"].dtype);
        Assert.True(Same(loaded["c"], c));
    }

    [Fact]
    public void SafeTensorsRejectsGarbage()
    {
        var path = Path.Combine(_dir, "bad.safetensors");
        File.WriteAllBytes(path, [255, 255, 255, 255, 0, 0, 0, 0, 1, 2, 3]);
        Assert.Throws<InvalidDataException>(() => SafeTensors.Load(path));
    }

    [Fact]
    public void NpzRoundTripsFidStatistics()
    {
        using var scope = NewDisposeScope();
        var mu = randn(16, dtype: ScalarType.Float64);
        var sigma = randn(16, 16, dtype: ScalarType.Float64);
        var path = Path.Combine(_dir, "stats.npz");
        Npz.Save(path, new Dictionary<string, Tensor> { ["mu"] = mu, ["sigma"] = sigma });
        var loaded = Npz.Load(path);
        Assert.True(Same(loaded["mu"], mu));
        Assert.True(Same(loaded["sigma"], sigma));
    }

    [Fact]
    public void ReadsPytorchFidStatisticsFixtureWhenPresent()
    {
        var root = Pipeline.Tests.TestPaths.RequireFixtureRoot();
        var files = Directory.GetFiles(root, "*.npz", SearchOption.AllDirectories);
        if (files.Length == 0) Requirement.Skip($"No .npz fixtures under {root}");
        using var scope = NewDisposeScope();
        foreach (var f in files)
        {
            var arrays = Npz.Load(f);
            Assert.NotEmpty(arrays);
            if (arrays.TryGetValue("mu", out var mu) && arrays.TryGetValue("sigma", out var sigma))
                Assert.Equal([mu.shape[0], mu.shape[0]], sigma.shape);
        }
    }

    [Fact]
    public void NpyRoundTripFloat32()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3);
        var path = Path.Combine(_dir, "x.npy");
        Npy.Save(path, x);
        Assert.True(Same(Npy.Load(path), x));
    }

    [Fact]
    public void RefusesPickleThatNamesDangerousGlobal()
    {
        // protocol 2: GLOBAL 'os system', (str) TUPLE1, REDUCE, STOP — the classic payload. It must be refused, never run.
        var payload = new List<byte> { 0x80, 0x02 };
        payload.AddRange(Encoding.ASCII.GetBytes("cos\nsystem\n"));
        payload.Add((byte)'X');
        payload.AddRange(BitConverter.GetBytes(4));
        payload.AddRange(Encoding.ASCII.GetBytes("true"));
        payload.AddRange([0x85, (byte)'R', (byte)'.']);
        var ex = Assert.Throws<InvalidDataException>(() => TorchFile.Load(WrapAsZip(payload.ToArray())));
        Assert.Contains("os.system", ex.Message);
    }

    [Fact]
    public void UnknownClassesBecomePlaceholders()
    {
        // {'args': argparse.Namespace()} : kept as a placeholder, nothing is constructed.
        var p = new List<byte> { 0x80, 0x02, (byte)'}', (byte)'X' };
        p.AddRange(BitConverter.GetBytes(4));
        p.AddRange(Encoding.ASCII.GetBytes("args"));
        p.AddRange(Encoding.ASCII.GetBytes("cargparse\nNamespace\n"));
        p.AddRange([(byte)')', 0x81, (byte)'}', (byte)'b', (byte)'s', (byte)'.']);
        var tree = Assert.IsType<OrderedDictionary<string, object?>>(TorchFile.Load(WrapAsZip(p.ToArray())));
        Assert.Equal(new PickleUnsupported("argparse.Namespace"), tree["args"]);
    }

    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();

    private static byte[] WrapAsZip(byte[] pickle)
    {
        using var ms = new MemoryStream();
        using (var zip = new System.IO.Compression.ZipArchive(ms, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            using var s = zip.CreateEntry("archive/data.pkl").Open();
            s.Write(pickle);
        }
        return ms.ToArray();
    }
}

public class TorchFileSaveTests
{
    [Fact]
    public void SavedCheckpointLoadsBackWithTheSameTree()
    {
        using var scope = NewDisposeScope();
        var sd = new OrderedDictionary<string, object?>
        {
            ["conv.weight"] = randn(4, 3, 3, 3),
            ["conv.bias"] = zeros(4),
            ["steps"] = arange(5, dtype: ScalarType.Int64),
        };
        var tree = new OrderedDictionary<string, object?>
        {
            ["g_ema"] = sd,
            ["latent_avg"] = randn(8),
            ["iteration"] = 1234L,
            ["lr"] = 0.002,
            ["name"] = "demo",
            ["flags"] = new List<object?> { true, false, null },
            ["shape"] = new object?[] { 1L, 2L },
        };
        var path = Path.Combine(Path.GetTempPath(), $"ckpt-{Guid.NewGuid():N}.pt");
        try
        {
            TorchFile.Save(path, tree);
            var loaded = Assert.IsType<OrderedDictionary<string, object?>>(TorchFile.Load(path));
            Assert.Equal(tree.Keys, loaded.Keys);
            var lsd = StateDicts.Get(loaded, "g_ema");
            foreach (var (k, v) in sd)
                Assert.True(((Tensor)v!).eq(lsd[k]).all().item<bool>(), k);
            Assert.Equal(1234L, loaded["iteration"]);
            Assert.Equal(0.002, loaded["lr"]);
            Assert.Equal("demo", loaded["name"]);
            Assert.Equal(new List<object?> { true, false, null }, loaded["flags"]);
            Assert.Equal(new object?[] { 1L, 2L }, loaded["shape"]);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void SavedLayoutMatchesTorchSaveZipEntries()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ckpt-{Guid.NewGuid():N}.pt");
        try
        {
            using var scope = NewDisposeScope();
            TorchFile.Save(path, new OrderedDictionary<string, object?> { ["w"] = ones(2) });
            using var zip = System.IO.Compression.ZipFile.OpenRead(path);
            var names = zip.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("archive/data.pkl", names);
            Assert.Contains("archive/data/0", names);
            Assert.Contains("archive/version", names);
            Assert.Contains("archive/byteorder", names);
        }
        finally { File.Delete(path); }
    }
}

public class NumpyObjectArrayTests
{
    [Fact]
    public void Pix2PixHdClusterFilesLoadAsDictsOfFloat64Arrays()
    {
        var root = Pipeline.Tests.TestPaths.RequireFixtureRoot();
        var files = Directory.GetFiles(root, "features_clustered_*.npy", SearchOption.AllDirectories);
        if (files.Length == 0) Requirement.Skip($"No pix2pixHD cluster files under {root}");
        using var scope = NewDisposeScope();
        foreach (var f in files)
        {
            var clusters = Assert.IsType<OrderedDictionary<string, object?>>(Npy.LoadAny(f));
            Assert.NotEmpty(clusters);
            foreach (var (label, value) in clusters)
            {
                Assert.True(int.TryParse(label, out _), $"label key '{label}' is not an integer");
                var t = Assert.IsAssignableFrom<Tensor>(value);
                Assert.Equal(ScalarType.Float64, t.dtype);
                Assert.Equal(2, t.dim());
            }
        }
    }
}
