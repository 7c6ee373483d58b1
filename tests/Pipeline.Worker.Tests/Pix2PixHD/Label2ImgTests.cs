using System.Text.Json;
using Pipeline.Engine.IO;
using Pipeline.Engine.Pix2PixHD;
using Pipeline.Imaging.Labels;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Tests;
using Pipeline.Worker.Cli.Pix2PixHD;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Pix2PixHD;
using static TorchSharp.torch;
using Pipeline.Worker.Operations.Label2Img;

namespace Pipeline.Worker.Tests.Pix2PixHD;

/// <summary>
/// The user-facing paths on the `inference` fixture: `pipeline label2img` and the worker's translation job must write the
/// reference's uint8 image (within its 1-level tolerance), and bad maps must be rejected with their reason.
/// </summary>
[Trait("Category", "Parity")]
public sealed class Label2ImgTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("label2img-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private static string FixtureDir(string name = "inference")
    {
        var dir = Path.Combine(TestPaths.RequireFixtureDir("pix2pixhd"), name);
        Requirement.SkipUnless(File.Exists(Path.Combine(dir, "latest_net_G.pth")), $"pix2pixhd fixture '{name}' not present ({dir}/latest_net_G.pth)");
        return dir;
    }

    private static Dictionary<string, string> ArgvPairs(string dir)
    {
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "meta.json")));
        var argv = meta.RootElement.GetProperty("config").GetProperty("argv").EnumerateArray().Select(e => e.GetString()!).ToList();
        var pairs = new Dictionary<string, string>();
        for (int i = 0; i + 1 < argv.Count; i++)
            if (argv[i].StartsWith("--", StringComparison.Ordinal) && !argv[i + 1].StartsWith("--", StringComparison.Ordinal)) pairs[argv[i][2..]] = argv[++i];
        return pairs;
    }

    private static void AssertMatchesReference(string dir, byte[] png)
    {
        var expected = SafeTensors.Load(Path.Combine(dir, "io.safetensors"))["out.image_uint8"];
        var img = PngSamples.Decode(png);
        var got = tensor(Enumerable.Range(0, img.Width * img.Height).SelectMany(i => img.Planes.Take(3).Select(p => (float)p[i])).ToArray(), [img.Height, img.Width, 3]);
        Assert.Equal(expected.shape, got.shape);
        double worst = (got - expected).abs().max().item<float>();
        Assert.True(worst <= 1, $"output differs from the reference image by up to {worst} levels");
    }

    [Fact]
    public async Task CommandWritesTheReferenceImage()
    {
        var dir = FixtureDir();
        var p = ArgvPairs(dir);
        var output = Path.Combine(_tmp, "out.png");
        var cmd = new Label2ImgCommand().Build();
        int rc = await cmd.Parse([Path.Combine(dir, "label.png"), "--instances", Path.Combine(dir, "inst.png"), "--model", dir,
            "--load-size", p["loadSize"], "--resize-or-crop", p["resize_or_crop"], "--label-nc", p["label_nc"], "--device", "cpu", "-o", output]).InvokeAsync();
        Assert.Equal(0, rc);
        AssertMatchesReference(dir, await File.ReadAllBytesAsync(output));
    }

    /// <summary>An 8-bit grayscale PNG (filter 0, one IDAT) of the given ids.</summary>
    private static byte[] GrayPng(int w, int h, Func<int, int, byte> id)
    {
        var raw = new MemoryStream();
        for (int y = 0; y < h; y++)
        {
            raw.WriteByte(0);
            for (int x = 0; x < w; x++) raw.WriteByte(id(x, y));
        }
        var z = new MemoryStream();
        using (var zs = new System.IO.Compression.ZLibStream(z, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        void Chunk(string type, byte[] body)
        {
            var len = new byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(len, body.Length);
            png.Write(len); png.Write(System.Text.Encoding.ASCII.GetBytes(type)); png.Write(body); png.Write(new byte[4]);
        }
        var ihdr = new byte[13];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 8;
        Chunk("IHDR", ihdr);
        Chunk("IDAT", z.ToArray());
        Chunk("IEND", []);
        return png.ToArray();
    }

    [Fact]
    public async Task StylePicksReproduceTheReferenceClusterDraws()
    {
        var dir = FixtureDir("inference_feat");
        var p = ArgvPairs(dir);
        var choices = SafeTensors.Load(Path.Combine(dir, "io.safetensors"))["aux.cluster_choice"];
        var styles = Enumerable.Range(0, (int)choices.shape[0])
            .SelectMany(i => new[] { "--style", $"{(long)choices[i, 0].item<float>()}={(int)choices[i, 1].item<float>()}" });
        var output = Path.Combine(_tmp, "styled.png");
        int rc = await new Label2ImgCommand().Build().Parse(new[] { Path.Combine(dir, "label.png"), "--instances", Path.Combine(dir, "inst.png"), "--model", dir,
            "--load-size", p["loadSize"], "--resize-or-crop", p["resize_or_crop"], "--device", "cpu", "-o", output }.Concat(styles).ToArray()).InvokeAsync();
        Assert.Equal(0, rc);
        AssertMatchesReference(dir, await File.ReadAllBytesAsync(output));
        // A cluster index the class does not have is refused.
        rc = await new Label2ImgCommand().Build().Parse([Path.Combine(dir, "label.png"), "--instances", Path.Combine(dir, "inst.png"), "--model", dir,
            "--load-size", p["loadSize"], "--device", "cpu", "-o", Path.Combine(_tmp, "bad.png"), "--style", "0=99"]).InvokeAsync();
        Assert.Equal(2, rc);
    }

    [Fact]
    public async Task CommandRejectsLabelIdsAboveTheModelsCount()
    {
        var dir = FixtureDir();
        int labelNc = int.Parse(ArgvPairs(dir)["label_nc"], System.Globalization.CultureInfo.InvariantCulture);
        var labels = Path.Combine(_tmp, "labels.png");
        await File.WriteAllBytesAsync(labels, GrayPng(16, 8, (x, y) => (byte)(x == 15 && y == 7 ? labelNc : x % labelNc)));
        var output = Path.Combine(_tmp, "x.png");
        int rc = await new Label2ImgCommand().Build().Parse([labels, "--model", dir, "--device", "cpu", "-o", output]).InvokeAsync();
        Assert.Equal(3, rc); // the label-map rejection exit code
        Assert.False(File.Exists(output));
        // The same map without the offending pixel is accepted (so the rejection was about the id, not the file).
        await File.WriteAllBytesAsync(labels, GrayPng(16, 8, (x, _) => (byte)(x % labelNc)));
        Assert.Equal(0, await new Label2ImgCommand().Build().Parse([labels, "--model", dir, "--device", "cpu", "-o", output]).InvokeAsync());
        Assert.True(File.Exists(output));
    }

    [Fact]
    public async Task JobHandlerWritesTheReferenceImageAndRejectsColourMaps()
    {
        var dir = FixtureDir();
        var p = ArgvPairs(dir);
        var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Path.Combine(_tmp, "store") });
        using var models = new ModelCache(store, Path.Combine(_tmp, "cache"));
        await store.PutBytesAsync("models/p2p/latest_net_G.pth", await File.ReadAllBytesAsync(Path.Combine(dir, "latest_net_G.pth")), new BlobPutOptions());
        var opt = string.Join("\n", new[] { "label_nc", "resize_or_crop", "loadSize", "fineSize" }.Where(p.ContainsKey).Select(k => $"{k}: {p[k]}"));
        await store.PutBytesAsync("models/p2p/opt.txt", System.Text.Encoding.UTF8.GetBytes("------------ Options -------------\n" + opt + "\n-------------- End ----------------\n"), new BlobPutOptions());
        await store.PutBytesAsync("uploads/label.png", await File.ReadAllBytesAsync(Path.Combine(dir, "label.png")), new BlobPutOptions());
        await store.PutBytesAsync("uploads/inst.png", await File.ReadAllBytesAsync(Path.Combine(dir, "inst.png")), new BlobPutOptions());
        var handler = new Pix2PixHdJobHandler(new EngineDevice("cpu"));
        var job = new TranslationJob
        {
            Model = new BlobRef("models/p2p/latest_net_G.pth"),
            Input = new BlobRef("uploads/label.png"),
            InstanceMap = new BlobRef("uploads/inst.png"),
            Variant = TranslationVariant.Pix2PixHdLabelToImage,
        };
        Assert.True(handler.CanHandle(job));
        Assert.False(handler.CanHandle(job with { Variant = TranslationVariant.CouncilSelfieToAnime }));
        var env = JobEnvelope.Create(job, "test");
        var context = new JobContext(env, store, models, 1, 1);
        var metrics = await handler.RunAsync(context, CancellationToken.None);
        Assert.Equal(1, metrics["outputs"]);
        var written = await store.GetBytesAsync(BlobLayout.Result(env.JobId, "output-0.png"));
        Assert.NotNull(written);
        AssertMatchesReference(dir, written!.Value.Bytes);

        // An RGB upload (e.g. a colourised label visualisation) is refused for good, with the reason.
        var rgb = Label2ImgInput.Encode(zeros([4, 4, 3], ScalarType.Byte), jpeg: false);
        await store.PutBytesAsync("uploads/rgb.png", rgb, new BlobPutOptions());
        var bad = job with { Input = new BlobRef("uploads/rgb.png"), InstanceMap = null };
        var e = await Assert.ThrowsAsync<PermanentJobException>(() => handler.RunAsync(new JobContext(JobEnvelope.Create(bad, "test"), store, models, 1, 1), CancellationToken.None));
        Assert.Contains(nameof(LabelMapRejection.NotSingleChannel), e.Message, StringComparison.Ordinal);
    }
}
