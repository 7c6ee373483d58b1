namespace Pipeline.Imaging.Faces;

/// <summary>A 2-D point in image pixels.</summary>
public readonly record struct PointF2(double X, double Y);

/// <summary>
/// dlib's ensemble-of-regression-trees shape predictor (Kazemi &amp; Sullivan 2014), read from a dlib .dat file such as
/// shape_predictor_68_face_landmarks.dat (Debian libdlib-data). Inference follows dlib 19.24 exactly (spec §5.2):
/// same float/double split, same rounding, so points match dlib's to the pixel. Immutable and thread-safe.
/// The model is never bundled: users point <see cref="Load"/> at a file whose licence they have accepted.
/// </summary>
public sealed class ShapePredictor
{
    /// <summary>Where Debian's libdlib-data installs the 68-point model.</summary>
    public const string DebianShapePredictor68 = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat";

    private const int TreeNodes = 15;   // depth-4 complete trees as dlib trains them by default
    private const int TreeLeaves = 16;

    private readonly float[] _initial;      // 2P, normalised box coordinates
    private readonly Level[] _levels;

    public int Parts => _initial.Length / 2;
    public int CascadeLevels => _levels.Length;
    public int TreesPerLevel => _levels.Length > 0 ? _levels[0].Trees : 0;
    public int FeaturePixels => _levels.Length > 0 ? _levels[0].Anchor.Length : 0;

    internal ReadOnlySpan<float> InitialShape => _initial;

    private sealed class Level
    {
        public int Trees;
        public int[] Idx1 = [];          // Trees × 15
        public int[] Idx2 = [];
        public float[] Thresh = [];
        public float[] Leaves = [];      // Trees × 16 × 2P
        public int[] Anchor = [];        // F
        public float[] DeltaX = [];      // F
        public float[] DeltaY = [];
    }

    private ShapePredictor(float[] initial, Level[] levels)
    {
        _initial = initial;
        _levels = levels;
    }

    internal (int Idx1, int Idx2, float Thresh) Split(int level, int tree, int node)
    {
        var l = _levels[level];
        int k = tree * TreeNodes + node;
        return (l.Idx1[k], l.Idx2[k], l.Thresh[k]);
    }

    internal (int Anchor, float Dx, float Dy) FeaturePixel(int level, int i) =>
        (_levels[level].Anchor[i], _levels[level].DeltaX[i], _levels[level].DeltaY[i]);

    public static ShapePredictor Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"dlib shape predictor not found at '{path}'. Install Debian's libdlib-data ({DebianShapePredictor68}) after reviewing its licence (docs/imaging.md), and configure the path.", path);
        var r = new DlibDeserializer(File.ReadAllBytes(path), path);
        var predictor = Read(r);
        if (r.Position != r.Length)
            throw new InvalidDataException($"{path}: {r.Length - r.Position} trailing bytes after the shape predictor; is this a shape predictor file?");
        return predictor;
    }

    private static ShapePredictor Read(DlibDeserializer r)
    {
        int version = r.ReadInt32();
        if (version != 1) throw r.Error($"version {version}, expected 1");
        var initial = r.ReadColumnVector(2 * 1000);
        if (initial.Length == 0 || initial.Length % 2 != 0) throw r.Error($"initial shape of length {initial.Length}");
        int dims = initial.Length;

        int levelCount = r.ReadCount(100);
        var levels = new Level[levelCount];
        for (int c = 0; c < levelCount; c++)
        {
            int trees = r.ReadCount(100_000);
            var l = levels[c] = new Level
            {
                Trees = trees,
                Idx1 = new int[trees * TreeNodes],
                Idx2 = new int[trees * TreeNodes],
                Thresh = new float[trees * TreeNodes],
                Leaves = new float[(long)trees * TreeLeaves * dims],
            };
            for (int t = 0; t < trees; t++)
            {
                int splits = r.ReadCount(1 << 20);
                if (splits != TreeNodes) throw r.Error($"tree with {splits} splits; only depth-4 trees (15 splits) are supported");
                for (int k = 0; k < splits; k++)
                {
                    l.Idx1[t * TreeNodes + k] = (int)r.ReadCount(1 << 20);
                    l.Idx2[t * TreeNodes + k] = (int)r.ReadCount(1 << 20);
                    l.Thresh[t * TreeNodes + k] = r.ReadFloat();
                }
                int leaves = r.ReadCount(1 << 20);
                if (leaves != TreeLeaves) throw r.Error($"tree with {leaves} leaves, expected {TreeLeaves}");
                for (int k = 0; k < leaves; k++)
                {
                    var v = r.ReadColumnVector(dims);
                    if (v.Length != dims) throw r.Error($"leaf of length {v.Length}, expected {dims}");
                    v.CopyTo(l.Leaves, ((long)t * TreeLeaves + k) * dims);
                }
            }
        }

        if (r.ReadCount(100) != levelCount) throw r.Error("anchor_idx level count differs from forests");
        for (int c = 0; c < levelCount; c++)
        {
            int f = r.ReadCount(1 << 20);
            var a = new int[f];
            for (int i = 0; i < f; i++)
            {
                a[i] = r.ReadCount(dims / 2 - 1);
            }
            levels[c].Anchor = a;
        }
        if (r.ReadCount(100) != levelCount) throw r.Error("deltas level count differs from forests");
        for (int c = 0; c < levelCount; c++)
        {
            int f = r.ReadCount(1 << 20);
            if (f != levels[c].Anchor.Length) throw r.Error($"level {c}: {f} deltas for {levels[c].Anchor.Length} anchors");
            var dx = new float[f];
            var dy = new float[f];
            for (int i = 0; i < f; i++)
            {
                dx[i] = r.ReadFloat();
                dy[i] = r.ReadFloat();
            }
            levels[c].DeltaX = dx;
            levels[c].DeltaY = dy;
        }
        foreach (var l in levels)
            for (int k = 0; k < l.Idx1.Length; k++)
                if (l.Idx1[k] >= l.Anchor.Length || l.Idx2[k] >= l.Anchor.Length) throw r.Error("split index beyond the feature pixels");
        return new ShapePredictor(initial, levels);
    }

    /// <summary>
    /// Landmarks for the face in <paramref name="box"/> (dlib inclusive rectangle, e.g. from <see cref="BoxCalibration"/>),
    /// as integer pixel positions exactly as dlib returns them.
    /// </summary>
    public PointF2[] Predict(RgbImage image, DlibRect box)
    {
        // dlib's rgb → grey for the shape predictor: integer mean of R, G, B.
        int w = image.Width, h = image.Height;
        var px = image.Pixels;
        int P = Parts, dims = _initial.Length;
        var current = (float[])_initial.Clone();
        var features = new float[FeaturePixels];
        double left = box.Left, top = box.Top, bw = box.Right - box.Left, bh = box.Bottom - box.Top;

        foreach (var level in _levels)
        {
            var (m00, m01, m10, m11) = SimilarityScaleRotation(_initial, current);
            if (features.Length < level.Anchor.Length) features = new float[level.Anchor.Length];
            for (int i = 0; i < level.Anchor.Length; i++)
            {
                int a = level.Anchor[i];
                float dx = level.DeltaX[i], dy = level.DeltaY[i];
                float u = m00 * dx + m01 * dy + current[2 * a];
                float v = m10 * dx + m11 * dy + current[2 * a + 1];
                double xi = left + u * bw, yi = top + v * bh;
                long x = (long)Math.Floor(xi + 0.5), y = (long)Math.Floor(yi + 0.5);
                if (x >= 0 && x < w && y >= 0 && y < h)
                {
                    long o = (y * w + x) * 3;
                    features[i] = (px[o] + px[o + 1] + px[o + 2]) / 3;
                }
                else
                {
                    features[i] = 0;
                }
            }
            for (int t = 0; t < level.Trees; t++)
            {
                int node = 0, b = t * TreeNodes;
                while (node < TreeNodes)
                    node = features[level.Idx1[b + node]] - features[level.Idx2[b + node]] > level.Thresh[b + node] ? 2 * node + 1 : 2 * node + 2;
                var leaf = level.Leaves.AsSpan((int)(((long)t * TreeLeaves + node - TreeNodes) * dims), dims);
                for (int k = 0; k < dims; k++) current[k] += leaf[k];
            }
        }
        var points = new PointF2[P];
        for (int k = 0; k < P; k++)
            points[k] = new PointF2(Math.Floor(left + current[2 * k] * bw + 0.5), Math.Floor(top + current[2 * k + 1] * bh + 0.5));
        return points;
    }

    /// <summary>The 2×2 scale-rotation part of the least-squares similarity from <paramref name="from"/> to <paramref name="to"/> (dlib: Umeyama; closed form here), cast to float.</summary>
    private static (float, float, float, float) SimilarityScaleRotation(float[] from, float[] to)
    {
        int n = from.Length / 2;
        double fx = 0, fy = 0, tx = 0, ty = 0;
        for (int i = 0; i < n; i++)
        {
            fx += from[2 * i];
            fy += from[2 * i + 1];
            tx += to[2 * i];
            ty += to[2 * i + 1];
        }
        fx /= n; fy /= n; tx /= n; ty /= n;
        double s = 0, a = 0, b = 0;
        for (int i = 0; i < n; i++)
        {
            double px = from[2 * i] - fx, py = from[2 * i + 1] - fy;
            double qx = to[2 * i] - tx, qy = to[2 * i + 1] - ty;
            s += px * px + py * py;
            a += px * qx + py * qy;
            b += px * qy - py * qx;
        }
        if (s == 0) return (1, 0, 0, 1);
        return ((float)(a / s), (float)(-b / s), (float)(b / s), (float)(a / s));
    }
}
