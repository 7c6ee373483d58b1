using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Jobs;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>A temporary file store with a model cache and a tiny seeded 16 px StyleGAN2 published as models/a.pt (g_ema).</summary>
internal sealed class TinyStyleGan2Store : IDisposable
{
    public TinyStyleGan2Store(string prefix)
    {
        Root = Directory.CreateTempSubdirectory(prefix).FullName;
        Store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Root });
        Models = new ModelCache(Store, Path.Combine(Root, ".cache"));
    }

    public string Root { get; }
    public FileSystemBlobStore Store { get; }
    public ModelCache Models { get; }

    /// <summary>Publishes the generator (manual_seed(1)) and returns its blob and the in-memory copy to compare against.</summary>
    public async Task<(BlobRef Model, Generator G)> PutModelAsync(CancellationToken ct)
    {
        manual_seed(1);
        var g = new Generator(new GeneratorConfig(16, 8, 2, new Dictionary<int, int> { [4] = 8, [8] = 8, [16] = 4 }));
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in g.state_dict()) sd[k] = v;
        var file = Path.Combine(Root, "a.pt");
        TorchFile.Save(file, new OrderedDictionary<string, object?> { ["g_ema"] = sd });
        await Store.PutBytesAsync("models/a.pt", await File.ReadAllBytesAsync(file, ct), cancellationToken: ct);
        return (new BlobRef("models/a.pt"), g);
    }

    public void Dispose()
    {
        Models.Dispose();
        Directory.Delete(Root, recursive: true);
    }
}
