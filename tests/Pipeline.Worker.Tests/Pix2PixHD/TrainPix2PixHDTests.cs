using Pipeline.Engine.Pix2PixHD;
using Pipeline.Engine.Training;
using Pipeline.Imaging.Labels;
using Pipeline.Imaging.Synthetic;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Infra.Uploads;
using Pipeline.Worker.Cli;
using Pipeline.Worker.Cli.Demo;
using Pipeline.Worker.Cli.Pix2PixHD;
using Pipeline.Worker.Cli.Training;
using Pipeline.Worker.Hosting;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Pix2PixHD;

namespace Pipeline.Worker.Tests.Pix2PixHD;

/// <summary>
/// `pipeline train pix2pixhd` on a tiny configuration, and the bundled models/pix2pixhd: both load strictly through the
/// loader `pipeline label2img` and the label-map jobs use, and the bundled one paints landscapes (per-class colours differ).
/// </summary>
public sealed class TrainPix2PixHDTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("p2ptrain-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    [Fact]
    public async Task Command_trains_a_tiny_model_that_label2img_loads_strictly()
    {
        var run = Path.Combine(_tmp, "run");
        int rc = new TrainCommand().Build().Parse(["pix2pixhd", "--count", "2", "--size", "16", "--ngf", "4", "--n-downsample-global", "2",
            "--n-blocks-global", "1", "--ndf", "4", "--n-layers-d", "2", "--num-d", "2", "--iter", "2", "--log-every", "1", "--image-every", "1",
            "--save-latest-freq", "1", "-o", run, "--device", "cpu"]).Invoke();
        Assert.Equal(0, rc);
        foreach (var f in new[] { "latest_net_G.pth", "latest_net_D.pth", "opt.txt", "iter.txt", "losses.png", "images/00000002.png" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        Assert.Equal([1.0, 2.0], MetricLog.ReadNumbers(Path.Combine(run, "metrics.jsonl")).Select(r => r["iter"]));
        Assert.Equal("1,2", File.ReadAllText(Path.Combine(run, "iter.txt")));
        Assert.Contains("\"initialisation\"", File.ReadAllText(Path.Combine(run, "eval.json")), StringComparison.Ordinal); // held-out scores

        // opt.txt in the reference's layout; without VGG19 weights the VGG loss is off, and the file says so.
        var optTxt = File.ReadAllText(Path.Combine(run, "opt.txt"));
        Assert.StartsWith("------------ Options -------------\n", optTxt, StringComparison.Ordinal);
        Assert.Contains("no_vgg_loss: True\n", optTxt, StringComparison.Ordinal);
        var o = OptionsParser.FromOptTxt(optTxt);
        Assert.Equal((6, true, 4, 2, 1, 16), (o.LabelNc, o.NoInstance, o.Ngf, o.NDownsampleGlobal, o.NBlocksGlobal, o.LoadSize));

        // The checkpoint is a bare state_dict with the reference keys: the strict loader rebuilds the same generator.
        using (var t = Translator.Load(run))
        {
            Assert.Equal(new GeneratorConfig(6, 3, 4, 2, 1, NormKind.Instance), t.Generator);
            Assert.Equal(6, t.Options.LabelNc);
        }
        var d = Networks.LoadDiscriminator(Networks.LoadStateDict(Path.Combine(run, "latest_net_D.pth")));
        Assert.Equal((2, 2, 4), (d.Config.NumD, d.Config.NLayers, d.Config.Ndf));

        // And label2img runs it on a landscape label map.
        var labels = Path.Combine(_tmp, "map.png");
        await File.WriteAllBytesAsync(labels, SyntheticLandscapes.LabelPng(SyntheticLandscapes.Draw(7, 32, 32)));
        var output = Path.Combine(_tmp, "out.png");
        Assert.Equal(0, await new Label2ImgCommand().Build().Parse([labels, "--model", run, "--device", "cpu", "-o", output]).InvokeAsync());
        var png = PngSamples.Decode(await File.ReadAllBytesAsync(output));
        Assert.Equal((16, 16), (png.Width, png.Height)); // scale_width to the training size, as opt.txt says
    }

    /// <summary>Mean RGB per class id of a translated map (classes present only).</summary>
    private static Dictionary<int, double[]> ClassMeans(IdMap labels, byte[] hwc)
    {
        var sums = new Dictionary<int, (double[] Sum, int N)>();
        for (int i = 0; i < labels.Width * labels.Height; i++)
        {
            int id = labels.Ids[i];
            if (!sums.TryGetValue(id, out var s)) s = (new double[3], 0);
            for (int c = 0; c < 3; c++) s.Sum[c] += hwc[i * 3 + c];
            sums[id] = (s.Sum, s.N + 1);
        }
        return sums.ToDictionary(kv => kv.Key, kv => kv.Value.Sum.Select(v => v / kv.Value.N).ToArray());
    }

    private static double Distance(double[] a, double[] b) => Math.Sqrt(a.Zip(b, (x, y) => (x - y) * (x - y)).Sum());

    [Fact]
    public void Bundled_model_loads_and_paints_sky_and_grass_in_different_colours()
    {
        var dir = BundledModels.Pix2PixHD;
        Assert.True(File.Exists(Path.Combine(dir, "latest_net_G.pth")), $"{dir}/latest_net_G.pth is bundled");
        using var t = Translator.Load(dir);
        Assert.Equal(SyntheticLandscapes.Labels.Count, t.Options.LabelNc);
        // An unseen landscape (training used seeds 0-999) at the training size, so classes map 1:1 to output pixels.
        int size = t.Options.LoadSize;
        var scene = SyntheticLandscapes.Draw(5001, size, size);
        var (map, _) = LabelMaps.ReadLabels(SyntheticLandscapes.LabelPng(scene), t.Options.LabelNc);
        using var r = t.Translate(new Label2ImageRequest(map) { Seed = 0 });
        Assert.Equal([size, size, 3], r.Image.shape);
        var means = ClassMeans(map, r.Image.contiguous().data<byte>().ToArray());
        int sky = 0, grass = 4, mountain = 2;
        Assert.True(means.ContainsKey(sky) && means.ContainsKey(grass) && means.ContainsKey(mountain), "the test map has sky, mountain and grass");
        // Not a constant or checkerboard image: the classes come out in clearly different colours...
        Assert.True(Distance(means[sky], means[grass]) > 40, $"sky {string.Join(",", means[sky].Select(v => (int)v))} vs grass {string.Join(",", means[grass].Select(v => (int)v))}");
        Assert.True(Distance(means[sky], means[mountain]) > 20, $"sky vs mountain {string.Join(",", means[mountain].Select(v => (int)v))}");
        // ...and in the landscapes' colours: grass greener than blue, sky brighter than grass.
        Assert.True(means[grass][1] > means[grass][2], $"grass G {means[grass][1]:F0} > B {means[grass][2]:F0}");
        Assert.True(means[sky].Sum() > means[grass].Sum(), "sky brighter than grass");
    }

    [Fact]
    public async Task A_labels_upload_runs_through_the_job_handler_with_the_default_folder_model()
    {
        var store = new FileSystemBlobStore(new FileSystemBlobStoreOptions { Root = Path.Combine(_tmp, "store") });
        using var models = new ModelCache(store, Path.Combine(_tmp, "cache"));
        foreach (var f in Directory.GetFiles(BundledModels.Pix2PixHD).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)))
            await store.PutBytesAsync("models/pix2pixhd/" + Path.GetFileName(f), await File.ReadAllBytesAsync(f), new BlobPutOptions());
        // The demo's upload, planned as upload validation plans a labels/ upload (default LabelModel models/pix2pixhd/).
        var bytes = DemoCommand.DemoLabelMap();
        var verdict = new UploadValidator().Validate(new UploadCandidate("labels/landscape.png", "\"e1\"", bytes));
        Assert.True(verdict.Accepted, verdict.Message);
        var job = Assert.IsType<TranslationJob>(Assert.Single(verdict.Jobs).Job);
        Assert.Equal(("models/pix2pixhd/", TranslationVariant.Pix2PixHdLabelToImage), (job.Model.Path, job.Variant));
        await store.PutBytesAsync(job.Input.Path, bytes, new BlobPutOptions());

        var env = JobEnvelope.Create(job, "test");
        var metrics = await new Pix2PixHdJobHandler(new EngineDevice("cpu")).RunAsync(new JobContext(env, store, models, 1, 1), CancellationToken.None);
        Assert.Equal(1, metrics["outputs"]);
        var written = await store.GetBytesAsync(BlobLayout.Result(env.JobId, "output-0.png"));
        Assert.NotNull(written);
        var png = PngSamples.Decode(written!.Value.Bytes);
        Assert.True(png.Planes.Length >= 3, "an RGB image");
        // The 128 px map is rescaled to the width the model was trained at (opt.txt: scale_width, loadSize).
        var opt = OptionsParser.FromOptTxt(File.ReadAllText(Path.Combine(BundledModels.Pix2PixHD, "opt.txt")));
        Assert.Equal((opt.LoadSize, opt.LoadSize), (png.Width, png.Height));
        Assert.Equal((double)png.Width, metrics["width"]);
    }
}
