using System.Security.Cryptography;
using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using Pipeline.Infra.Storage;
using static TorchSharp.torch;

namespace Pipeline.Worker.Cli.Demo;

/// <summary>
/// The models the demo runs: the trained ones committed under models/ when present, otherwise small
/// deterministic StyleGAN2 weights (seeded init, clearly named as untrained).
/// </summary>
internal static class DemoModels
{
    /// <param name="StyleGan2File">Local copy of the StyleGAN2 checkpoint (for work the demo does in-process, e.g. mixing grids).</param>
    /// <param name="Encoder">Blob of the generator's encoder (<c>&lt;model&gt;.encoder.pt</c>), when one is bundled.</param>
    /// <param name="Pix2PixHD">Blob folder of the bundled pix2pixHD model (<c>models/pix2pixhd/</c>, what label-map uploads use), when one is bundled.</param>
    /// <param name="StyleGan1">Blob of the bundled StyleGAN v1 model (the gallery's paintings), when one is bundled; <paramref name="StyleGan1File"/> is its local file.</param>
    public sealed record Published(string StyleGan2, string StyleGan2File, bool StyleGan2Trained, string? Council, string Note, string? Encoder = null,
        string? Pix2PixHD = null, string? StyleGan1 = null, string? StyleGan1File = null);

    public static async Task<Published> PublishAsync(IBlobStore store, string scratch, CancellationToken ct)
    {
        string? sg2File = File.Exists(BundledModels.StyleGan2) ? BundledModels.StyleGan2 : null;
        bool trained = sg2File is not null;
        if (sg2File is null)
        {
            sg2File = Path.Combine(scratch, "stylegan2-untrained-seed0-32px.pt");
            WriteUntrainedStyleGan2(sg2File);
        }
        var sg2Blob = "models/" + Path.GetFileName(sg2File);
        await UploadAsync(store, sg2File, sg2Blob, ct);
        // The encoder goes next to its generator blob, where projection jobs look for it (they then start from its W+).
        var encoderFile = EncoderCheckpoint.PathFor(sg2File);
        string? encoderBlob = null;
        if (File.Exists(encoderFile))
        {
            encoderBlob = EncoderCheckpoint.PathFor(sg2Blob).Replace('\\', '/');
            await UploadAsync(store, encoderFile, encoderBlob, ct);
        }

        string? councilBlob = null;
        var councilDir = Directory.Exists(BundledModels.Council) ? BundledModels.Council : null;
        if (councilDir is not null)
        {
            councilBlob = "models/" + Path.GetFileName(councilDir) + "/";
            foreach (var f in Directory.GetFiles(councilDir).Where(f => !f.EndsWith(".md", StringComparison.Ordinal) && !f.EndsWith(".sha256", StringComparison.Ordinal)))
                await UploadAsync(store, f, councilBlob + Path.GetFileName(f), ct);
        }
        // pix2pixHD: the folder as the reference saves it (latest_net_G.pth + opt.txt), at the blob folder the
        // label-map upload default (UploadValidationOptions.LabelModel) names.
        string? p2pBlob = null;
        if (Directory.Exists(BundledModels.Pix2PixHD))
        {
            p2pBlob = "models/" + Path.GetFileName(BundledModels.Pix2PixHD) + "/";
            foreach (var f in Directory.GetFiles(BundledModels.Pix2PixHD).Where(f => !f.EndsWith(".md", StringComparison.Ordinal) && !f.EndsWith(".sha256", StringComparison.Ordinal)))
                await UploadAsync(store, f, p2pBlob + Path.GetFileName(f), ct);
        }
        // No untrained stand-in for v1: its jobs and grids are simply left out when no v1 model is bundled.
        string? sg1File = File.Exists(BundledModels.StyleGan1) ? BundledModels.StyleGan1 : null;
        string? sg1Blob = null;
        if (sg1File is not null)
        {
            sg1Blob = "models/" + Path.GetFileName(sg1File);
            await UploadAsync(store, sg1File, sg1Blob, ct);
        }
        var note = (trained ? $"StyleGAN2: bundled trained model {Path.GetFileName(sg2File)}." : "StyleGAN2: no trained model is bundled yet, so the demo uses small deterministic untrained weights (seed 0): images are structured noise, not faces.")
                   + (encoderBlob is null ? " No encoder: projections start from the mean latent." : $" Encoder {Path.GetFileName(encoderFile)}: projections start from its W+ prediction.")
                   + (councilBlob is null ? " Council GAN: no bundled council, so selfie translations are skipped." : $" Council GAN: bundled council {Path.GetFileName(councilDir)}.")
                   + (p2pBlob is null ? " pix2pixHD: no bundled model, so the label-map upload is skipped." : $" pix2pixHD: bundled model {p2pBlob} (synthetic landscapes).")
                   + (sg1Blob is null ? " StyleGAN v1: no bundled model, so the v1 paintings and mixing grid are skipped." : $" StyleGAN v1: bundled model {Path.GetFileName(sg1File)} (paintings).");
        return new Published(sg2Blob, sg2File, trained, councilBlob, note, encoderBlob, Pix2PixHD: p2pBlob, StyleGan1: sg1Blob, StyleGan1File: sg1File);
    }

    private static async Task UploadAsync(IBlobStore store, string file, string blob, CancellationToken ct)
    {
        var bytes = await File.ReadAllBytesAsync(file, ct);
        await store.PutBytesAsync(blob, bytes, new BlobPutOptions
        {
            ContentType = "application/octet-stream",
            Metadata = new Dictionary<string, string> { ["sha256"] = Convert.ToHexStringLower(SHA256.HashData(bytes)) },
        }, ct);
    }

    /// <summary>A 32 px StyleGAN2 (style_dim 64, 4 mapping layers) with seeded weights, saved in train.py's layout.</summary>
    internal static void WriteUntrainedStyleGan2(string path)
    {
        manual_seed(0);
        using var scope = NewDisposeScope();
        var config = new GeneratorConfig(32, 64, 4, new Dictionary<int, int> { [4] = 64, [8] = 64, [16] = 32, [32] = 16 });
        using var g = new Pipeline.Engine.StyleGan2.Generator(config);
        var sd = new OrderedDictionary<string, object?>();
        foreach (var (k, v) in g.state_dict()) sd[k] = v.detach().clone();
        using var _ = no_grad();
        var latentAvg = g.MeanLatent(4096).reshape(-1);
        TorchFile.Save(path, new OrderedDictionary<string, object?> { ["g_ema"] = sd, ["latent_avg"] = latentAvg });
    }
}
