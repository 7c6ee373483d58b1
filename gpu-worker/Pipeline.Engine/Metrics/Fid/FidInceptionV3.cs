using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Pipeline.Engine.Metrics.Fid;

/// <summary>
/// The FID InceptionV3 of pytorch-fid (TF "2015-12-05" Inception): torchvision module names, so the keys of
/// pt_inception-2015-12-05-6726825d.pth load unchanged (fc.* and num_batches_tracked are ignored, see
/// <see cref="LoadStateDict"/>). <see cref="ForwardBlocks"/> is the pytorch-fid wrapper's forward.
/// </summary>
public sealed class FidInceptionV3 : nn.Module<Tensor, Tensor>
{
    /// <summary>Feature dimensionality of each wrapper block (pytorch-fid BLOCK_INDEX_BY_DIM).</summary>
    public static readonly IReadOnlyList<int> BlockDims = [64, 192, 768, 2048];

    private readonly BasicConv2d Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3;
    private readonly FidInceptionA Mixed_5b, Mixed_5c, Mixed_5d;
    private readonly InceptionB Mixed_6a;
    private readonly FidInceptionC Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e;
    private readonly InceptionD Mixed_7a;
    private readonly FidInceptionE Mixed_7b, Mixed_7c;

    public FidInceptionV3() : base(nameof(FidInceptionV3))
    {
        Conv2d_1a_3x3 = new BasicConv2d(3, 32, 3, stride: 2);
        Conv2d_2a_3x3 = new BasicConv2d(32, 32, 3);
        Conv2d_2b_3x3 = new BasicConv2d(32, 64, 3, padding: 1);
        Conv2d_3b_1x1 = new BasicConv2d(64, 80, 1);
        Conv2d_4a_3x3 = new BasicConv2d(80, 192, 3);
        Mixed_5b = new FidInceptionA(192, 32);
        Mixed_5c = new FidInceptionA(256, 64);
        Mixed_5d = new FidInceptionA(288, 64);
        Mixed_6a = new InceptionB(288);
        Mixed_6b = new FidInceptionC(768, 128);
        Mixed_6c = new FidInceptionC(768, 160);
        Mixed_6d = new FidInceptionC(768, 160);
        Mixed_6e = new FidInceptionC(768, 192);
        Mixed_7a = new InceptionD(768);
        Mixed_7b = new FidInceptionE(1280, maxPool: false);
        Mixed_7c = new FidInceptionE(2048, maxPool: true);
        RegisterComponents();
        eval();
    }

    /// <summary>True for keys of the weights file this module deliberately does not hold (unused classifier, BN counters).</summary>
    public static bool IsIgnoredKey(string key) =>
        key.StartsWith("fc.", StringComparison.Ordinal) || key.EndsWith(".num_batches_tracked", StringComparison.Ordinal);

    /// <summary>Loads a torchvision-keyed state_dict (the .pth file's), strictly apart from <see cref="IsIgnoredKey"/>.</summary>
    public void LoadStateDict(IEnumerable<KeyValuePair<string, Tensor>> stateDict) =>
        IO.StateDicts.Load(this, stateDict, strict: true, ignore: IsIgnoredKey, what: "FID InceptionV3 (pt_inception-2015-12-05)");

    /// <summary>Pool3 features [N, 2048] of images in [0, 1] (resize to 299 and 2x-1 inside).</summary>
    public override Tensor forward(Tensor images01) => ForwardBlocks(images01, [3])[0].flatten(1);

    /// <summary>
    /// pytorch-fid InceptionV3.forward: optional bilinear resize to 299 (no antialias), optional [0,1] -> [-1,1],
    /// then the blocks up to the last requested one; returns the requested block outputs in ascending block order.
    /// Block 3 ends with the global average pool ([N, 2048, 1, 1]).
    /// </summary>
    public Tensor[] ForwardBlocks(Tensor x, IReadOnlyCollection<int> outputBlocks, bool resizeInput = true, bool normalizeInput = true)
    {
        if (outputBlocks.Count == 0 || outputBlocks.Any(b => b is < 0 or > 3))
            throw new ArgumentException("output blocks must be a non-empty subset of 0..3", nameof(outputBlocks));
        int last = outputBlocks.Max();
        if (resizeInput) x = FidPreprocess.Resize299(x);
        if (normalizeInput) x = FidPreprocess.ZeroOneToSigned(x);
        var outputs = new List<Tensor>();
        for (int b = 0; b <= last; b++)
        {
            x = RunBlock(b, x);
            if (outputBlocks.Contains(b)) outputs.Add(x);
        }
        return [.. outputs];
    }

    private Tensor RunBlock(int block, Tensor x) => block switch
    {
        0 => F.max_pool2d(Conv2d_2b_3x3.forward(Conv2d_2a_3x3.forward(Conv2d_1a_3x3.forward(x))), 3, stride: 2),
        1 => F.max_pool2d(Conv2d_4a_3x3.forward(Conv2d_3b_1x1.forward(x)), 3, stride: 2),
        2 => Mixed_6e.forward(Mixed_6d.forward(Mixed_6c.forward(Mixed_6b.forward(
                Mixed_6a.forward(Mixed_5d.forward(Mixed_5c.forward(Mixed_5b.forward(x)))))))),
        3 => F.adaptive_avg_pool2d(Mixed_7c.forward(Mixed_7b.forward(Mixed_7a.forward(x))), [1, 1]),
        _ => throw new ArgumentOutOfRangeException(nameof(block)),
    };

    /// <summary>
    /// Features of the block whose output has <paramref name="dims"/> channels, averaged over H and W ([N, dims]);
    /// for 2048 this is pool3. Images in [0, 1], any size.
    /// </summary>
    public Tensor Features(Tensor images01, int dims = 2048)
    {
        int block = BlockIndexOfDims(dims);
        var y = ForwardBlocks(images01, [block])[0];
        return y.mean([2, 3]);
    }

    public static int BlockIndexOfDims(int dims)
    {
        for (int i = 0; i < BlockDims.Count; i++)
            if (BlockDims[i] == dims) return i;
        throw new ArgumentException($"FID feature dims must be one of {string.Join(", ", BlockDims)}; got {dims}", nameof(dims));
    }
}
