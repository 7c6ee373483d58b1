namespace Pipeline.Imaging.Faces;

/// <summary>
/// The cascade flattened into arrays for one integral-image width: each node carries its feature's rectangle corner
/// offsets (always 3 rectangles; unused ones weigh 0), so the inner loop touches only contiguous ints and floats.
/// </summary>
internal sealed class FlatCascade
{
    private int[] _ofs = [];        // 12 per node: 3 rects × 4 corners
    private float[] _weights = [];  // 3 per node
    private float[] _threshold = [];
    private int[] _left = [];
    private int[] _right = [];
    private int[] _treeNode = [];   // first node of each tree
    private int[] _treeLeaf = [];   // first leaf of each tree
    private float[] _leaves = [];
    private int[] _stageTreeEnd = [];
    private float[] _stageThreshold = [];

    public static FlatCascade Build(HaarCascade cascade, int integralWidth)
    {
        var f = new FlatCascade();
        var ofs = new List<int>();
        var wts = new List<float>();
        var thr = new List<float>();
        var left = new List<int>();
        var right = new List<int>();
        var treeNode = new List<int>();
        var treeLeaf = new List<int>();
        var leaves = new List<float>();
        var stageEnd = new List<int>();
        var stageThr = new List<float>();
        foreach (var stage in cascade.Stages)
        {
            foreach (var tree in stage.Trees)
            {
                treeNode.Add(thr.Count);
                treeLeaf.Add(leaves.Count);
                foreach (var node in tree.Nodes)
                {
                    var rects = cascade.Features[node.Feature].Rects;
                    if (rects.Length > 3) throw new InvalidDataException("Haar features have at most 3 rectangles.");
                    for (int r = 0; r < 3; r++)
                    {
                        if (r < rects.Length)
                        {
                            var q = rects[r];
                            ofs.AddRange([q.Y * integralWidth + q.X, q.Y * integralWidth + q.X + q.W, (q.Y + q.H) * integralWidth + q.X, (q.Y + q.H) * integralWidth + q.X + q.W]);
                            wts.Add(q.Weight);
                        }
                        else
                        {
                            ofs.AddRange([0, 0, 0, 0]);
                            wts.Add(0);
                        }
                    }
                    thr.Add(node.Threshold);
                    left.Add(node.Left);
                    right.Add(node.Right);
                }
                leaves.AddRange(tree.Leaves);
            }
            stageEnd.Add(treeNode.Count);
            stageThr.Add(stage.Threshold);
        }
        f._ofs = [.. ofs];
        f._weights = [.. wts];
        f._threshold = [.. thr];
        f._left = [.. left];
        f._right = [.. right];
        f._treeNode = [.. treeNode];
        f._treeLeaf = [.. treeLeaf];
        f._leaves = [.. leaves];
        f._stageTreeEnd = [.. stageEnd];
        f._stageThreshold = [.. stageThr];
        return f;
    }

    /// <summary>1 when every stage passes, else −(index of the failing stage), as OpenCV's runAt.</summary>
    /// <remarks>Unsafe: the hot loop of detection; offsets were validated against the window when the cascade was loaded.</remarks>
    public unsafe int Evaluate(int[] sum, int p, float norm)
    {
        fixed (int* sumBase = sum, ofsBase = _ofs, left = _left, right = _right, treeNode = _treeNode, treeLeaf = _treeLeaf, stageEnd = _stageTreeEnd)
        fixed (float* w = _weights, thr = _threshold, leaves = _leaves, stageThr = _stageThreshold)
        {
            int* s = sumBase + p;
            int tree = 0;
            int stages = _stageTreeEnd.Length;
            for (int si = 0; si < stages; si++)
            {
                double acc = 0;
                int end = stageEnd[si];
                for (; tree < end; tree++)
                {
                    int root = treeNode[tree];
                    int idx = 0;
                    do
                    {
                        int n = root + idx;
                        int* o = ofsBase + n * 12;
                        float* wn = w + n * 3;
                        float val = wn[0] * (s[o[0]] - s[o[1]] - s[o[2]] + s[o[3]])
                            + wn[1] * (s[o[4]] - s[o[5]] - s[o[6]] + s[o[7]])
                            + wn[2] * (s[o[8]] - s[o[9]] - s[o[10]] + s[o[11]]);
                        idx = val * norm < thr[n] ? left[n] : right[n];
                    }
                    while (idx > 0);
                    acc += leaves[treeLeaf[tree] - idx];
                }
                if (acc < stageThr[si]) return -si;
            }
            return 1;
        }
    }
}
