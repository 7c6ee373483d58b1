using Pipeline.Engine.IO;
using static TorchSharp.torch;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>Picks a cluster index for an instance id: (instance id, class label, cluster count) -> index in 0..count-1.</summary>
public delegate int ClusterChooser(long instanceId, int label, int clusterCount);

/// <summary>One row of the reference's `encode_features`: the pooled feature at the instance's middle pixel and its relative area.</summary>
public sealed record FeatureRow(long InstanceId, int Label, double[] Features, double Area);

/// <summary>
/// Per-class k-means centres of encoded instance features (the reference's `features_clustered_NNN.npy`) and the
/// style selection of test.py (spec 5.3, 5.4).
/// </summary>
public sealed class FeatureClusters
{
    /// <summary>Centres per class label: [k][feat_num], float64 as stored.</summary>
    public IReadOnlyDictionary<int, double[][]> Centres { get; }

    public int FeatNum { get; }

    public FeatureClusters(IReadOnlyDictionary<int, double[][]> centres)
    {
        Centres = centres;
        FeatNum = centres.Values.SelectMany(c => c).Select(r => r.Length).DefaultIfEmpty(0).Max();
        if (centres.Values.SelectMany(c => c).Any(r => r.Length != FeatNum))
            throw new InvalidDataException("cluster file rows have different lengths");
    }

    /// <summary>The class of an instance id: ids below 1000 are the class itself, others are class*1000+k.</summary>
    public static int LabelOf(long instanceId) => (int)(instanceId < 1000 ? instanceId : instanceId / 1000);

    /// <summary>Reads the reference's cluster file (np.save of a 0-d object array holding {label: float64 [k, feat_num]}).</summary>
    public static FeatureClusters Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"cluster file not found: {path} (the reference writes features_clustered_010.npy with encode_features.py)", path);
        var obj = Npy.LoadAny(path);
        if (obj is not OrderedDictionary<string, object?> dict)
            throw new InvalidDataException($"{path}: expected a pickled dict {{label: centres}}, found {obj?.GetType().Name ?? "None"}");
        var centres = new Dictionary<int, double[][]>();
        foreach (var (key, value) in dict)
        {
            if (!int.TryParse(key, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var label))
                throw new InvalidDataException($"{path}: label key '{key}' is not an integer");
            if (value is not Tensor a || a.dim() != 2 || !a.is_floating_point())
                throw new InvalidDataException($"{path}: centres of label {label} are not a 2-d numeric array");
            int k = (int)a.shape[0], f = (int)a.shape[1];
            if (k == 0) continue;
            var numbers = a.to(ScalarType.Float64).contiguous().data<double>().ToArray();
            centres[label] = Enumerable.Range(0, k).Select(r => numbers.AsSpan(r * f, f).ToArray()).ToArray();
        }
        return new FeatureClusters(centres);
    }

    /// <summary>A chooser drawing uniformly like the reference's np.random.randint, reproducible with a seed.</summary>
    public static ClusterChooser Random(int? seed = null)
    {
        var rng = seed is int s ? new Random(s) : new Random();
        return (_, _, k) => rng.Next(k);
    }

    /// <summary>
    /// The feature map [B, feat_num, H, W] for <paramref name="inst"/>: for every distinct integer id (ascending, whole
    /// batch) whose class has centres, one chosen centre fills all its pixels. Ids of classes without centres, and
    /// non-integer ids, get 0 (the reference leaves uninitialised memory there, deviation D3).
    /// </summary>
    public Tensor Sample(Tensor inst, ClusterChooser choose)
    {
        using var scope = NewDisposeScope();
        var ids = inst.to(ScalarType.Int64);
        var valid = inst.is_floating_point() ? inst.eq(inst.trunc()) : ones_like(inst, ScalarType.Bool);
        var (uniq, inverse, _) = unique(ids.flatten(), sorted: true, return_inverse: true);
        var idList = uniq.cpu().data<long>().ToArray();
        var table = new float[idList.Length * FeatNum];
        for (int u = 0; u < idList.Length; u++)
        {
            if (!Centres.TryGetValue(LabelOf(idList[u]), out var c)) continue;
            int pick = choose(idList[u], LabelOf(idList[u]), c.Length);
            if (pick < 0 || pick >= c.Length) throw new ArgumentOutOfRangeException(nameof(choose), $"cluster index {pick} for id {idList[u]} is outside 0..{c.Length - 1}");
            for (int j = 0; j < FeatNum; j++) table[u * FeatNum + j] = (float)c[pick][j];
        }
        long b = inst.shape[0], h = inst.shape[2], w = inst.shape[3];
        var lut = tensor(table, [idList.Length, FeatNum]).to(inst.device);
        var feat = lut.index_select(0, inverse!).view(b, h, w, FeatNum).permute(0, 3, 1, 2);
        feat = feat * valid.to(ScalarType.Float32);
        return scope.MoveToOuter(feat.contiguous());
    }

    /// <summary>
    /// The reference's `encode_features` for one image: for each distinct id (ascending) the pooled feature at the
    /// middle pixel (index count/2 in raster order) and the area count / (H*W // 32).
    /// </summary>
    public static List<FeatureRow> CollectRows(Tensor pooled, Tensor inst)
    {
        if (pooled.shape[0] != 1 || inst.shape[0] != 1) throw new ArgumentException("encode_features works on one image at a time (batch 1)");
        long h = inst.shape[2], w = inst.shape[3];
        var ids = inst.to(ScalarType.Int64).cpu().flatten().data<long>().ToArray();
        var raw = inst.to(ScalarType.Float64).cpu().flatten().data<double>().ToArray();
        var feats = pooled.to(ScalarType.Float64).cpu();
        long c = feats.shape[1], fw = feats.shape[3];
        var fdata = feats.flatten().data<double>().ToArray();
        long blocks = h * w / 32;
        // One pass groups the pixels (raster order) of every id; pixels with non-integer values match no id.
        var pixelsOf = new SortedDictionary<long, List<int>>();
        for (int p = 0; p < ids.Length; p++)
        {
            if (raw[p] != ids[p]) continue;
            if (!pixelsOf.TryGetValue(ids[p], out var list)) pixelsOf[ids[p]] = list = [];
            list.Add(p);
        }
        var rows = new List<FeatureRow>();
        foreach (var (id, pixels) in pixelsOf)
        {
            int mid = pixels[pixels.Count / 2];
            long y = mid / w, x = mid % w;
            var f = new double[c];
            for (int j = 0; j < c; j++) f[j] = fdata[(j * feats.shape[2] + y) * fw + x];
            rows.Add(new FeatureRow(id, LabelOf(id), f, (double)pixels.Count / blocks));
        }
        return rows;
    }
}
