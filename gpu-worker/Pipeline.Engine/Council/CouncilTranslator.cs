using Pipeline.Imaging;
using static TorchSharp.torch;

namespace Pipeline.Engine.Council;

/// <summary>Where to find a council and how to run it.</summary>
public sealed record CouncilLoadOptions
{
    /// <summary>The yaml that ships with the weights; null: <c>config.yaml</c> (or the only *.yaml) beside them, if any.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>Device for the networks (default CPU).</summary>
    public Device? Device { get; init; }

    /// <summary>Image size when there is no yaml (otherwise the yaml's <c>new_size</c>).</summary>
    public int? Size { get; init; }
}

/// <summary>Per-job translation settings. Seeds make a job reproducible.</summary>
public sealed record TranslateOptions
{
    /// <summary>K: diverse outputs (z codes) per input image.</summary>
    public int NumStyles { get; init; } = 10;

    /// <summary>Image n draws its z codes from CPU torch.manual_seed(SeedBase + n), as test_on_folder.py (which uses n + 2).</summary>
    public long SeedBase { get; init; } = 2;

    /// <summary>A fixed member, or null to draw one per image from <see cref="MemberSeed"/>.</summary>
    public int? Member { get; init; }

    /// <summary>Seed of the per-image member draw (the reference draws unseeded; here it is recorded).</summary>
    public int MemberSeed { get; init; }

    public OutputMapping Mapping { get; init; } = OutputMapping.MinMax;

    /// <summary>Most z codes decoded per pass (the worker halves it after a CUDA out-of-memory); null: all K at once.</summary>
    public int? MaxBatch { get; init; }
}

/// <summary>What a translation job records next to its images.</summary>
public sealed record TranslationRecord(int ImageIndex, int Member, long ZSeed, int NumStyles, int MemberSeed, OutputMapping Mapping, int Width, int Height);

/// <summary>One translated image: K outputs of one member. Owns its tensors.</summary>
public sealed class Translation : IDisposable
{
    public required TranslationRecord Record { get; init; }

    /// <summary>The resized and cropped 8-bit input.</summary>
    public required RgbImage Resized { get; init; }

    /// <summary>(1, 3, S, S) network input in [-1, 1].</summary>
    public required Tensor Input { get; init; }

    /// <summary>enc_content(x) of the member.</summary>
    public required Tensor Content { get; init; }

    /// <summary>(K, style_dim, 1, 1) z codes (CPU).</summary>
    public required Tensor Z { get; init; }

    /// <summary>(K, 3, S, S) generator outputs in [-1, 1].</summary>
    public required Tensor Outputs { get; init; }

    /// <summary>(K, S, S, 3) uint8 outputs after the chosen mapping.</summary>
    public required Tensor Bytes { get; init; }

    public RgbImage[] Images() => ImageTensors.ToImages(Bytes);

    public void Dispose()
    {
        Input.Dispose();
        Content.Dispose();
        Z.Dispose();
        Outputs.Dispose();
        Bytes.Dispose();
    }
}

/// <summary>
/// A council of N generators loaded from one checkpoint prefix, translating images as the reference's folder test
/// does: resize + center crop, normalise, pick a member, K seeded z codes, decode (batched), map to bytes.
/// </summary>
public sealed class CouncilTranslator : IDisposable
{
    private readonly CouncilGenerator[] _members;

    public IReadOnlyList<CouncilGenerator> Members => _members;
    public IReadOnlyList<string> MemberFiles { get; }
    public GenOptions Gen { get; }
    public CouncilConfig? Config { get; }
    public Device Device { get; }

    /// <summary>Shorter side after resizing, and the crop (S×S as test_on_folder.py).</summary>
    public int Size { get; }

    public CouncilTranslator(IReadOnlyList<CouncilGenerator> members, int size, CouncilConfig? config = null, IReadOnlyList<string>? files = null, Device? device = null)
    {
        if (members.Count == 0) throw new ArgumentException("a council needs at least one member");
        if (members.Select(m => m.Options).Distinct().Count() != 1)
            throw new ArgumentException("council members differ in architecture");
        int unit = 1 << members[0].Options.NDownsample;
        if (size <= 0 || size % unit != 0)
            throw new ArgumentException($"image size {size} must be a positive multiple of 2^n_downsample = {unit}");
        _members = [.. members];
        Gen = members[0].Options;
        Size = size;
        Config = config;
        MemberFiles = files ?? [];
        Device = device ?? CPU;
    }

    /// <summary>
    /// Loads every member of <paramref name="checkpoint"/>: "&lt;dir&gt;/&lt;step&gt;" prefix, one member file, or a directory.
    /// </summary>
    public static CouncilTranslator Load(string checkpoint, CouncilLoadOptions? options = null)
    {
        options ??= new CouncilLoadOptions();
        var configPath = options.ConfigPath ?? FindConfigBeside(checkpoint);
        var config = configPath is null ? null : CouncilConfig.Load(configPath);
        var direction = config?.Direction ?? "b2a";
        var files = CouncilCheckpoint.ResolveGeneratorFiles(checkpoint,
            File.Exists(checkpoint) || Directory.Exists(checkpoint) ? null : config?.Council.CouncilSize, direction);
        int size = options.Size ?? config?.NewSize
            ?? throw new CouncilConfigException($"no config.yaml beside {checkpoint}: pass the yaml that ships with the weights, or an image size");
        var members = new List<CouncilGenerator>();
        try
        {
            foreach (var f in files) members.Add(CouncilCheckpoint.LoadGenerator(f, config?.Gen, direction, options.Device));
            return new CouncilTranslator(members, size, config, files, options.Device);
        }
        catch
        {
            foreach (var m in members) m.Dispose();
            throw;
        }
    }

    private static string? FindConfigBeside(string checkpoint)
    {
        var dir = Directory.Exists(checkpoint) ? checkpoint : Path.GetDirectoryName(Path.GetFullPath(checkpoint));
        if (dir is null || !Directory.Exists(dir)) return null;
        var named = Path.Combine(dir, "config.yaml");
        if (File.Exists(named)) return named;
        var yamls = Directory.GetFiles(dir, "*.yaml").Concat(Directory.GetFiles(dir, "*.yml")).ToArray();
        return yamls.Length == 1 ? yamls[0] : null;
    }

    /// <summary>Resize (shorter side) + center crop to S×S, bit-exact with PIL.</summary>
    public RgbImage Preprocess(RgbImage image) => TorchvisionTransforms.ResizeAndCenterCrop(image, Size, Size, Size);

    /// <summary>The member image <paramref name="imageIndex"/> is given when none is fixed (recorded, reproducible).</summary>
    public int PickMember(int imageIndex, TranslateOptions o)
    {
        if (o.Member is int m)
        {
            if (m < 0 || m >= _members.Length) throw new ArgumentOutOfRangeException(nameof(o), $"member {m} does not exist (council of {_members.Length})");
            return m;
        }
        // A fixed mix (not HashCode.Combine, which is randomised per process) so a rerun picks the same member.
        int seed = unchecked(o.MemberSeed * 1_000_003 + imageIndex) & int.MaxValue;
        return new Random(seed).Next(_members.Length);
    }

    /// <summary>torch.manual_seed(seed); randn(k, style_dim, 1, 1) on the CPU generator (the reference's z).</summary>
    public Tensor SampleZ(long seed, int k)
    {
        using var g = new Generator((ulong)seed);
        return randn([k, Gen.StyleDim, 1, 1], generator: g);
    }

    /// <summary>Decodes K z codes of one member for one preprocessed input x (1, 3, S, S), as one batch.</summary>
    public (Tensor Content, Tensor Outputs) Decode(int member, Tensor x, Tensor z, int? maxBatch = null)
    {
        if (maxBatch is < 1) throw new ArgumentOutOfRangeException(nameof(maxBatch), "maxBatch must be at least 1");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var g = _members[member];
        x = x.to(Device);
        var content = g.EncodeContent(x);
        var parts = new List<Tensor>();
        long k = z.shape[0], step = maxBatch ?? k;
        for (long i = 0; i < k; i += step)
        {
            long n = Math.Min(step, k - i);
            var zi = z.narrow(0, i, n).to(Device);
            parts.Add(g.Decode(content.expand(n, -1, -1, -1), g.AdaInParams(zi), x.expand(n, -1, -1, -1)));
        }
        var outs = parts.Count == 1 ? parts[0] : cat(parts, 0);
        return scope.MoveToOuter(content, outs);
    }

    /// <summary>Translates image number <paramref name="imageIndex"/> of a job into K outputs.</summary>
    public Translation Translate(RgbImage image, int imageIndex, TranslateOptions? options = null)
    {
        var o = options ?? new TranslateOptions();
        if (o.NumStyles < 1) throw new ArgumentOutOfRangeException(nameof(options), "NumStyles must be at least 1");
        var resized = Preprocess(image);
        int member = PickMember(imageIndex, o);
        long seed = o.SeedBase + imageIndex;
        var x = ImageTensors.ToInput(resized, Device);
        var z = SampleZ(seed, o.NumStyles);
        var (content, outs) = Decode(member, x, z, o.MaxBatch);
        return new Translation
        {
            Record = new TranslationRecord(imageIndex, member, seed, o.NumStyles, o.MemberSeed, o.Mapping, Size, Size),
            Resized = resized,
            Input = x,
            Content = content,
            Z = z,
            Outputs = outs,
            Bytes = ImageTensors.ToBytes(outs, o.Mapping),
        };
    }

    public void Dispose()
    {
        foreach (var m in _members) m.Dispose();
    }
}
