using System.Security.Cryptography;

namespace Pipeline.Engine.Metrics;

/// <summary>
/// An official weights file of a metric's feature network. <see cref="Sha256"/> is the full digest where it is known;
/// otherwise <see cref="Sha256Prefix"/> is the torch-hub convention (the hex in the file name starts the SHA-256),
/// checked exactly as torch.hub's check_hash does.
/// </summary>
public sealed record FeatureNetworkFile(string Id, string FileName, string Url, string? Sha256, string Sha256Prefix, string Description)
{
    /// <summary>Short name for messages such as "no VGG16 weights" (the file name means little to a reader).</summary>
    public string Title { get; init; } = Id;

    /// <summary>Null when the digest fits, else what is wrong.</summary>
    public string? VerifyDigest(string actualSha256)
    {
        if (Sha256 is not null && !string.Equals(Sha256, actualSha256, StringComparison.OrdinalIgnoreCase))
            return $"{FileName}: sha256 {actualSha256} does not match the official {Sha256}";
        if (!actualSha256.StartsWith(Sha256Prefix, StringComparison.OrdinalIgnoreCase))
            return $"{FileName}: sha256 {actualSha256} does not start with {Sha256Prefix} (its torch-hub name says it must)";
        return null;
    }
}

/// <summary>The feature networks FID, LPIPS and PPL need, with their official sources.</summary>
public static class FeatureNetworks
{
    public static readonly FeatureNetworkFile Inception = new(
        "inception", "pt_inception-2015-12-05-6726825d.pth",
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
        null, "6726825d", "FID InceptionV3 (pytorch-fid port of the TF 2015-12-05 graph), ~95 MB") { Title = "Inception" };

    public static readonly FeatureNetworkFile Vgg16 = new(
        "vgg16", "vgg16-397923af.pth", "https://download.pytorch.org/models/vgg16-397923af.pth",
        null, "397923af", "torchvision ImageNet VGG16 (LPIPS trunk; only features.* are used), ~528 MB") { Title = "VGG16" };

    /// <summary>LPIPS v0.1 linear heads; full digest taken from a verbatim copy of PerceptualSimilarity's file.</summary>
    public static readonly FeatureNetworkFile LpipsVggHeads = new(
        "lpips-vgg", "lpips_vgg_v0.1.pth",
        "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
        "a78928a0af1e5f0fcb1f3b9e8f8c3a2a5a3de244d830ad5c1feddc79b8432868", "a78928a0", "LPIPS v0.1 linear heads for VGG16, 7 KB") { Title = "LPIPS VGG16 heads" };

    public static IReadOnlyList<FeatureNetworkFile> All { get; } = [Inception, Vgg16, LpipsVggHeads];

    /// <summary>`pipeline models fetch` names: inception, vgg16 (fetches the trunk and the LPIPS heads), lpips-vgg.</summary>
    public static IReadOnlyList<FeatureNetworkFile> ForName(string name) => name.ToLowerInvariant() switch
    {
        "inception" => [Inception],
        "vgg16" or "lpips" => [Vgg16, LpipsVggHeads],
        "lpips-vgg" => [LpipsVggHeads],
        _ => throw new ArgumentException($"unknown feature network '{name}'; known: inception, vgg16, lpips-vgg", nameof(name)),
    };

    public static async Task<string> Sha256OfFileAsync(string path, CancellationToken ct = default)
    {
        await using var s = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(s, ct));
    }
}

/// <summary>Where feature-network weights are found: explicit files first, then the cache directory.</summary>
public sealed record FeatureNetworkOptions
{
    /// <summary>Cache folder; default ~/.cache/pipeline/models. The host decides (the worker and CLI: $PIPELINE_MODELS first).</summary>
    public string CacheDirectory { get; init; } = UserCacheDirectory();

    /// <summary>Explicit file per id (inception, vgg16, lpips-vgg) overriding the cache.</summary>
    public IReadOnlyDictionary<string, string> Files { get; init; } = new Dictionary<string, string>();

    /// <summary>Verify digests before use (on by default; the hash of a 500 MB file takes about a second).</summary>
    public bool Verify { get; init; } = true;

    /// <summary>~/.cache/pipeline/models: the engine reads no environment, so this is only the fallback of a host's choice.</summary>
    public static string UserCacheDirectory() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "pipeline", "models");
}

/// <summary>Thrown when a metric cannot run because feature-network weights are absent; metric records say "skipped".</summary>
public sealed class WeightsMissingException(string message) : FileNotFoundException(message);

/// <summary>Resolves, verifies and fetches feature-network weights.</summary>
public sealed class FeatureNetworkStore(FeatureNetworkOptions options)
{
    public FeatureNetworkOptions Options { get; } = options;

    /// <summary>The configured or cached path of a file, or null when it is not on this machine.</summary>
    public string? Find(FeatureNetworkFile f)
    {
        if (Options.Files.TryGetValue(f.Id, out var explicitPath))
            return File.Exists(explicitPath) ? explicitPath : null;
        var cached = Path.Combine(Options.CacheDirectory, f.FileName);
        return File.Exists(cached) ? cached : null;
    }

    /// <summary>The verified path, or <see cref="WeightsMissingException"/> saying how to get the file.</summary>
    public async Task<string> RequireAsync(FeatureNetworkFile f, CancellationToken ct = default)
    {
        var path = Find(f) ?? throw new WeightsMissingException(
            $"weights missing: {f.FileName} ({f.Description}) is not in {Options.CacheDirectory}; run `pipeline models fetch {(f.Id == "lpips-vgg" ? "vgg16" : f.Id)}` " +
            $"on a machine with internet, or download {f.Url} there and configure its path.");
        if (Options.Verify)
        {
            var problem = f.VerifyDigest(await FeatureNetworks.Sha256OfFileAsync(path, ct));
            if (problem is not null) throw new InvalidDataException(problem + $" ({path}); delete it and fetch it again.");
        }
        return path;
    }

    /// <summary>Downloads into the cache (temp file, verify, rename), unless a verified copy is there.</summary>
    public async Task<string> FetchAsync(FeatureNetworkFile f, HttpClient http, IProgress<(long Done, long? Total)>? progress = null, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Options.CacheDirectory);
        var target = Path.Combine(Options.CacheDirectory, f.FileName);
        if (File.Exists(target) && f.VerifyDigest(await FeatureNetworks.Sha256OfFileAsync(target, ct)) is null)
            return target;
        var tmp = target + ".part";
        using (var resp = await http.GetAsync(f.Url, HttpCompletionOption.ResponseHeadersRead, ct))
        {
            resp.EnsureSuccessStatusCode();
            long? total = resp.Content.Headers.ContentLength;
            await using var src = await resp.Content.ReadAsStreamAsync(ct);
            await using var dst = File.Create(tmp);
            var buf = new byte[1 << 20];
            long done = 0;
            int n;
            while ((n = await src.ReadAsync(buf, ct)) > 0)
            {
                await dst.WriteAsync(buf.AsMemory(0, n), ct);
                done += n;
                progress?.Report((done, total));
            }
        }
        var problem = f.VerifyDigest(await FeatureNetworks.Sha256OfFileAsync(tmp, ct));
        if (problem is not null)
        {
            File.Delete(tmp);
            throw new InvalidDataException("download rejected: " + problem);
        }
        File.Move(tmp, target, overwrite: true);
        return target;
    }

    /// <summary>The FID InceptionV3 with the official weights (throws <see cref="WeightsMissingException"/> without them).</summary>
    public async Task<(Fid.FidInceptionV3 Model, string Sha256)> LoadInceptionAsync(CancellationToken ct = default)
    {
        var path = await RequireAsync(FeatureNetworks.Inception, ct);
        var model = new Fid.FidInceptionV3();
        model.LoadStateDict(StateDictFiles.Load(path));
        return (model, await FeatureNetworks.Sha256OfFileAsync(path, ct));
    }

    /// <summary>LPIPS v0.1 VGG with the torchvision trunk and the v0.1 heads.</summary>
    public async Task<(Lpips.LpipsVgg Model, string Sha256)> LoadLpipsVggAsync(CancellationToken ct = default)
    {
        var trunk = await RequireAsync(FeatureNetworks.Vgg16, ct);
        var heads = await RequireAsync(FeatureNetworks.LpipsVggHeads, ct);
        var model = new Lpips.LpipsVgg();
        model.LoadWeights(StateDictFiles.Load(trunk), StateDictFiles.Load(heads));
        return (model, await FeatureNetworks.Sha256OfFileAsync(trunk, ct));
    }
}
