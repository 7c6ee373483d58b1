using Pipeline.Engine.IO;
using Pipeline.Tests;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.IO;

/// <summary>
/// Data-driven over whatever fixture tree is given: every PyTorch file loads, sibling copies in other formats
/// (zip vs legacy, .pth vs .safetensors) hold bit-identical tensors, and damaged copies are rejected clearly.
/// </summary>
[Trait("Category", "Parity")]
public class CheckpointFixtureTests
{
    private static readonly string[] Extensions = [".pt", ".pth", ".model"];

    public static TheoryData<string> CheckpointFiles()
    {
        var data = new TheoryData<string>();
        var root = TestPaths.FixtureRoot;
        if (root is null) { data.Add(""); return data; }
        foreach (var f in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                     .Where(f => Extensions.Contains(Path.GetExtension(f)))
                     .Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(root, f));
        // An empty theory would report "no data"; one empty row reports what is missing instead.
        if (data.Count == 0) data.Add("");
        return data;
    }

    [Theory, MemberData(nameof(CheckpointFiles))]
    public void LoadsAndMatchesSiblingCopies(string relative)
    {
        var root = TestPaths.RequireFixtureRoot();
        Requirement.SkipWhen(relative.Length == 0, $"No checkpoint files ({string.Join(", ", Extensions)}) under {root}");
        var path = Path.Combine(root, relative);
        using var scope = NewDisposeScope();
        var tree = TorchFile.Load(path);
        var tensors = Flatten(tree);
        Assert.NotEmpty(tensors);

        // param.<key> tensors in the directory's io.safetensors are the same values the reference saved.
        var io = Path.Combine(Path.GetDirectoryName(path)!, "io.safetensors");
        if (File.Exists(io))
        {
            foreach (var (name, expected) in SafeTensors.Load(io).Where(kv => kv.Key.StartsWith("param.", StringComparison.Ordinal)))
            {
                var key = name["param.".Length..];
                foreach (var (_, actual) in tensors.Where(kv => kv.Key == key || kv.Key.EndsWith("." + key, StringComparison.Ordinal)))
                    AssertBitIdentical(expected, actual, key);
            }
        }

        // A same-stem .safetensors copy (e.g. LPIPS heads) must hold the same tensors bit for bit.
        var sibling = Path.ChangeExtension(path, ".safetensors");
        if (File.Exists(sibling))
        {
            var copy = SafeTensors.Load(sibling);
            foreach (var (k, v) in copy)
            {
                Assert.True(tensors.TryGetValue(k, out var t), $"{relative} lacks '{k}' that {Path.GetFileName(sibling)} has");
                AssertBitIdentical(v, t!, k);
            }
        }

        // Zip and legacy copies of one checkpoint (weights.pt / weights_legacy.pt, weights.model / weights_zip.model).
        foreach (var twin in Twins(path).Where(File.Exists))
        {
            var other = Flatten(TorchFile.Load(twin));
            Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), other.Keys.Order(StringComparer.Ordinal));
            foreach (var (k, v) in tensors) AssertBitIdentical(v, other[k], k);
        }
    }

    [Theory, MemberData(nameof(CheckpointFiles))]
    public void TruncatedAndCorruptedCopiesAreRejectedClearly(string relative)
    {
        var root = TestPaths.RequireFixtureRoot();
        Requirement.SkipWhen(relative.Length == 0, $"No checkpoint files ({string.Join(", ", Extensions)}) under {root}");
        var bytes = File.ReadAllBytes(Path.Combine(root, relative));
        using var scope = NewDisposeScope();
        foreach (var cut in new[] { 0, 1, 16, bytes.Length / 3, bytes.Length / 2, bytes.Length - 9 })
        {
            var ex = Assert.ThrowsAny<Exception>(() => TorchFile.Load(bytes[..cut]));
            Assert.IsType<InvalidDataException>(ex);
        }
        // Overwrite a run of bytes in the middle: the loader must either reject it or return a tree (tensor bytes can
        // legitimately change), but never crash with another exception type or hang.
        var rng = new Random(1234);
        for (int i = 0; i < 20; i++)
        {
            var copy = (byte[])bytes.Clone();
            int at = rng.Next(copy.Length), len = Math.Min(copy.Length - at, 1 + rng.Next(64));
            rng.NextBytes(copy.AsSpan(at, len));
            try { _ = TorchFile.Load(copy); }
            catch (InvalidDataException) { }
        }
    }

    private static IEnumerable<string> Twins(string path)
    {
        var dir = Path.GetDirectoryName(path)!;
        var name = Path.GetFileName(path);
        if (name == "weights.pt") yield return Path.Combine(dir, "weights_legacy.pt");
        if (name == "weights.model") yield return Path.Combine(dir, "weights_zip.model");
    }

    internal static Dictionary<string, Tensor> Flatten(object? node, string prefix = "")
    {
        var result = new Dictionary<string, Tensor>();
        void Walk(object? n, string p)
        {
            switch (n)
            {
                case Tensor t: result[p] = t; break;
                case OrderedDictionary<string, object?> d: foreach (var (k, v) in d) Walk(v, p.Length == 0 ? k : p + "." + k); break;
                case List<object?> l: for (int i = 0; i < l.Count; i++) Walk(l[i], p + "." + i); break;
                case object?[] a: for (int i = 0; i < a.Length; i++) Walk(a[i], p + "." + i); break;
            }
        }
        Walk(node, prefix);
        return result;
    }

    private static void AssertBitIdentical(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.True(DTypes.ToBytes(expected).AsSpan().SequenceEqual(DTypes.ToBytes(actual)), $"{what}: values differ");
    }
}
