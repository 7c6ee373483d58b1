using Pipeline.Imaging;
using Pipeline.Imaging.Labels;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>One label-map translation: the maps as decoded (before the test-time transform) and how to pick styles.</summary>
public sealed record Label2ImageRequest(IdMap? Labels)
{
    /// <summary>For image-to-image models (label_nc 0): the 8-bit input image used in place of a label map.</summary>
    public RgbImage? InputImage { get; init; }

    /// <summary>Instance ids; when null and the model uses instance maps, the label map serves as its own instance map.</summary>
    public IdMap? Instances { get; init; }

    /// <summary>Real photo (8-bit RGB), needed only with <see cref="UseEncodedImage"/>.</summary>
    public RgbImage? Photo { get; init; }

    /// <summary>Crop position for the crop modes; null draws it like the reference, from <see cref="Seed"/>.</summary>
    public (int X, int Y)? CropPosition { get; init; }

    /// <summary>Cluster choice per instance (feature models); null draws uniformly from <see cref="Seed"/>.</summary>
    public ClusterChooser? Chooser { get; init; }

    /// <summary>Encode the photo with E instead of sampling cluster centres (the reference's --use_encoded_image).</summary>
    public bool UseEncodedImage { get; init; }

    /// <summary>Seed for the crop position and cluster choices, so a job can be regenerated exactly.</summary>
    public int? Seed { get; init; }

    /// <summary>Overrides the model's loadSize for this request (the width for scale_width).</summary>
    public int? LoadSize { get; init; }
}

/// <summary>Values that take precedence over `opt.txt` and over what the checkpoint shapes suggest (e.g. command-line flags).</summary>
public sealed record TranslatorOverrides(int? LabelNc = null, bool? NoInstance = null, string? ResizeOrCrop = null, int? LoadSize = null, int? FineSize = null);

/// <summary>The data loader's tensors, the generator output in [-1, 1] and the 8-bit HWC image (tensor2im).</summary>
public sealed record Label2ImageResult(Tensor Label, Tensor? Instances, Tensor Generated, Tensor Image) : IDisposable
{
    public void Dispose()
    {
        Label.Dispose(); Instances?.Dispose(); Generated.Dispose(); Image.Dispose();
    }
}

/// <summary>
/// test.py for one image (spec 10): transforms, input encoding, optional features (cluster sampling or encoded photo),
/// G, tensor2im. Loads a model folder as the reference writes it: `{which}_net_G.pth`, optional `{which}_net_E.pth`,
/// `features_clustered_NNN.npy` and `opt.txt`.
/// </summary>
public sealed class Translator : IDisposable
{
    public Pix2PixHDOptions Options { get; }
    public GeneratorConfig Generator { get; }
    public nn.Module<Tensor, Tensor> NetG { get; }
    public Encoder? NetE { get; }
    public FeatureClusters? Clusters { get; }
    public Device Device { get; }

    public Translator(Pix2PixHDOptions options, nn.Module<Tensor, Tensor> netG, GeneratorConfig generator, Encoder? netE, FeatureClusters? clusters, Device? device = null)
    {
        Options = options;
        Generator = generator;
        Device = device ?? CPU;
        NetG = netG.to(Device);
        NetE = netE?.to(Device);
        Clusters = clusters;
        if (generator.InputNc != options.NetGInputNc)
            throw new InvalidDataException($"the generator takes {generator.InputNc} input channels, but label_nc {options.LabelNc}, " +
                $"{(options.NoInstance ? "no edge channel" : "1 edge channel")} and {(options.UsesFeatures ? options.FeatNum : 0)} feature channels make {options.NetGInputNc}: check label_nc / no_instance / instance_feat");
        if (options.UsesFeatures && clusters is null && netE is null)
            throw new InvalidDataException("this model uses instance features: the model folder needs features_clustered_NNN.npy (or an encoder and a photo)");
    }

    /// <summary>
    /// Loads a model folder. Architecture comes from the checkpoint shapes; label_nc / no_instance / feature use from
    /// <paramref name="options"/>, else `opt.txt`, else what the shapes allow (default no_instance off).
    /// </summary>
    public static Translator Load(string modelDir, Pix2PixHDOptions? options = null, string which = "latest", Device? device = null, TranslatorOverrides? overrides = null)
    {
        if (!Directory.Exists(modelDir)) throw new DirectoryNotFoundException($"model folder not found: {modelDir}");
        var gPath = FindCheckpoint(modelDir, $"{which}_net_G")
            ?? throw new FileNotFoundException($"{modelDir} has no {which}_net_G.pth (or .safetensors): pass the folder the reference saved its checkpoints in");
        var optTxt = Path.Combine(modelDir, "opt.txt");
        var clusterPath = Directory.GetFiles(modelDir, "features_clustered_*.npy").Order(StringComparer.Ordinal).FirstOrDefault();
        return LoadFiles(new ModelFiles(gPath, (FindCheckpoint(modelDir, $"{which}_net_E") ?? FindCheckpoint(modelDir, "latest_net_E")), clusterPath, File.Exists(optTxt) ? optTxt : null), options, device, overrides);
    }

    /// <summary>Where a model's files are when they do not sit in one folder (e.g. a download cache).</summary>
    public sealed record ModelFiles(string Generator, string? Encoder = null, string? Clusters = null, string? OptTxt = null);

    /// <summary>Loads from explicit files; the same rules as <see cref="Load"/>.</summary>
    public static Translator LoadFiles(ModelFiles files, Pix2PixHDOptions? options = null, Device? device = null, TranslatorOverrides? overrides = null)
    {
        var o = options ?? (files.OptTxt is not null ? OptionsParser.FromOptTxt(File.ReadAllText(files.OptTxt)) : null);
        var (g, gc) = Networks.LoadGenerator(Networks.LoadStateDict(files.Generator));
        var e = files.Encoder is null ? null : Networks.LoadEncoder(Networks.LoadStateDict(files.Encoder));
        var clusters = files.Clusters is null ? null : FeatureClusters.Load(files.Clusters);
        var ov = overrides ?? new TranslatorOverrides();
        o ??= Infer(gc, e, clusters, ov);
        o = o with
        {
            LabelNc = ov.LabelNc ?? o.LabelNc, NoInstance = ov.NoInstance ?? o.NoInstance, ResizeOrCrop = ov.ResizeOrCrop ?? o.ResizeOrCrop,
            LoadSize = ov.LoadSize ?? o.LoadSize, FineSize = ov.FineSize ?? o.FineSize,
            NetG = gc.Local ? "local" : "global", Ngf = gc.Ngf, NDownsampleGlobal = gc.NDownsample, NBlocksGlobal = gc.NBlocks,
            NLocalEnhancers = gc.Local ? gc.NLocalEnhancers : o.NLocalEnhancers, NBlocksLocal = gc.Local ? gc.NBlocksLocal : o.NBlocksLocal,
            Norm = gc.Norm, OutputNc = gc.OutputNc,
        };
        o.Validate();
        return new Translator(o, g, gc, e, clusters, device);
    }

    private static Pix2PixHDOptions Infer(GeneratorConfig gc, Encoder? e, FeatureClusters? clusters, TranslatorOverrides ov)
    {
        int featNum = e?.FeatNum ?? clusters?.FeatNum ?? 0;
        bool noInstance = ov.NoInstance ?? false;
        int labelNc = ov.LabelNc ?? gc.InputNc - (noInstance ? 0 : 1) - featNum;
        if (labelNc <= 0) throw new InvalidDataException($"cannot infer label_nc from a {gc.InputNc}-channel generator: give the options (or opt.txt)");
        return new Pix2PixHDOptions { LabelNc = labelNc, NoInstance = noInstance, InstanceFeat = featNum > 0, FeatNum = featNum > 0 ? featNum : 3 };
    }

    private static string? FindCheckpoint(string dir, string stem) =>
        new[] { ".pth", ".safetensors" }.Select(ext => Path.Combine(dir, stem + ext)).FirstOrDefault(File.Exists);

    /// <summary>Runs the whole test.py path for one request.</summary>
    public Label2ImageResult Translate(Label2ImageRequest request)
    {
        using var scope = NewDisposeScope();
        var rng = request.Seed is int s ? new Random(s) : new Random();
        // label_nc 0: the input is an image, loaded with the photo transform (bicubic + normalise), spec 2.4.
        var input = Options.LabelNc == 0
            ? request.InputImage ?? throw new ArgumentException("this model translates images (label_nc 0): set InputImage", nameof(request))
            : null;
        var labels = input is null ? request.Labels ?? throw new ArgumentException("a label map is required", nameof(request)) : null;
        int width = input?.Width ?? labels!.Width, height = input?.Height ?? labels!.Height;
        var plan = Preprocess.Plan(request.LoadSize is int ls ? Options with { LoadSize = ls } : Options, width, height, Generator.SizeBase, request.CropPosition, rng);
        var label = input is null
            ? Preprocess.IdsToTensor(Preprocess.Apply(labels!, plan))
            : Preprocess.PhotoToTensor(Preprocess.Apply(input, plan));
        Tensor? inst = null;
        if (!Options.NoInstance || Options.UsesFeatures)
        {
            var instMap = request.Instances ?? labels
                ?? throw new ArgumentException("this image-to-image model uses instance maps: set Instances", nameof(request));
            if (instMap.Width != width || instMap.Height != height)
                throw new InvalidLabelMapException(LabelMapRejection.SizeMismatch, $"instance map is {instMap.Width}x{instMap.Height} but the input is {width}x{height}");
            inst = Preprocess.IdsToTensor(Preprocess.Apply(instMap, plan));
        }
        Tensor? photo = null;
        if (request.UseEncodedImage)
        {
            var p = request.Photo ?? throw new ArgumentException("use_encoded_image needs the real photo", nameof(request));
            if (p.Width != width || p.Height != height)
                throw new ArgumentException($"photo is {p.Width}x{p.Height} but the input is {width}x{height}", nameof(request));
            photo = Preprocess.PhotoToTensor(Preprocess.Apply(p, plan));
        }
        var generated = Generate(label, inst, photo, request.Chooser ?? ((_, _, k) => rng.Next(k)), request.UseEncodedImage);
        var image = Preprocess.ToImage(generated[0].cpu());
        var result = new Label2ImageResult(label, inst, generated.cpu(), image);
        scope.MoveToOuter(result.Label, result.Generated, result.Image);
        if (result.Instances is not null) scope.MoveToOuter(result.Instances);
        return result;
    }

    /// <summary>
    /// Batched core: label [B,1,H,W] ids, inst [B,1,H,W] ids (or null), photo [B,3,H,W] for encoded features.
    /// Returns G's output [B, output_nc, H', W'] on <see cref="Device"/>.
    /// </summary>
    public Tensor Generate(Tensor label, Tensor? inst, Tensor? photo = null, ClusterChooser? chooser = null, bool useEncodedImage = false)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        label = label.to(Device);
        inst = inst?.to(Device);
        var inputLabel = InputEncoding.EncodeLabel(label, Options.NoInstance ? null : inst, Options.LabelNc, Options.NoInstance);
        Tensor? feat = null;
        if (Options.UsesFeatures)
        {
            var poolBy = Options.LabelFeat ? label : inst ?? label;
            if (useEncodedImage)
            {
                var e = NetE ?? throw new InvalidOperationException("use_encoded_image needs {which}_net_E.pth in the model folder");
                feat = e.forward((photo ?? throw new ArgumentNullException(nameof(photo))).to(Device), poolBy);
            }
            else
            {
                var c = Clusters ?? throw new InvalidOperationException("this model samples styles from features_clustered_NNN.npy, which the model folder lacks");
                feat = c.Sample(poolBy, chooser ?? FeatureClusters.Random());
            }
        }
        var y = NetG.forward(InputEncoding.GeneratorInput(inputLabel, feat));
        return scope.MoveToOuter(y);
    }

    public void Dispose()
    {
        NetG.Dispose();
        NetE?.Dispose();
    }
}
