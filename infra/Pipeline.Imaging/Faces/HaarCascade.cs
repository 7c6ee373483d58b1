using System.Globalization;
using System.Xml.Linq;

namespace Pipeline.Imaging.Faces;

/// <summary>
/// An OpenCV Haar cascade (the "opencv-cascade-classifier" XML format of OpenCV ≥ 2.4: BOOST stages of small decision
/// trees over Haar rectangle features). Loaded from the file the user configures, e.g. Debian opencv-data's
/// /usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml.
/// </summary>
public sealed class HaarCascade
{
    /// <summary>Debian opencv-data location of the recommended face cascade.</summary>
    public const string DebianFrontalFaceAlt2 = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml";

    // OpenCV subtracts this from stage thresholds when reading them (THRESHOLD_EPS).
    private const float ThresholdEps = 1e-5f;

    public int WindowWidth { get; }
    public int WindowHeight { get; }
    internal Stage[] Stages { get; }
    internal HaarFeature[] Features { get; }

    private HaarCascade(int w, int h, Stage[] stages, HaarFeature[] features)
    {
        WindowWidth = w;
        WindowHeight = h;
        Stages = stages;
        Features = features;
    }

    internal readonly record struct Node(int Left, int Right, int Feature, float Threshold);

    internal sealed record Tree(Node[] Nodes, float[] Leaves);

    internal sealed record Stage(float Threshold, Tree[] Trees);

    internal readonly record struct HaarRect(int X, int Y, int W, int H, float Weight);

    internal sealed record HaarFeature(HaarRect[] Rects);

    public static HaarCascade Load(string path)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"Haar cascade not found at '{path}'. On Debian/Ubuntu install it with 'apt-get install opencv-data' ({DebianFrontalFaceAlt2}).", path);
        XDocument doc;
        using (var s = File.OpenRead(path)) doc = XDocument.Load(s);
        return Parse(doc, path);
    }

    private static HaarCascade Parse(XDocument doc, string source)
    {
        var cascade = doc.Root?.Element("cascade")
            ?? throw new InvalidDataException($"{source}: no <cascade> element; only the OpenCV ≥ 2.4 cascade format is supported (old <haarcascade_*> files are not).");
        string stageType = cascade.Element("stageType")?.Value.Trim() ?? "";
        string featureType = cascade.Element("featureType")?.Value.Trim() ?? "";
        if (stageType != "BOOST" || featureType != "HAAR")
            throw new InvalidDataException($"{source}: stageType '{stageType}', featureType '{featureType}'; only BOOST/HAAR cascades are supported.");
        int w = Int(cascade, "width"), h = Int(cascade, "height");

        var features = cascade.Element("features")!.Elements("_").Select((f, i) =>
        {
            if ((f.Element("tilted")?.Value.Trim() ?? "0") != "0")
                throw new InvalidDataException($"{source}: feature {i} is tilted (45° rotated features are not supported).");
            var rects = f.Element("rects")!.Elements("_").Select(r =>
            {
                var v = Numbers(r.Value);
                if (v.Length != 5) throw new InvalidDataException($"{source}: feature {i} rect '{r.Value}' needs 5 numbers.");
                var rect = new HaarRect((int)v[0], (int)v[1], (int)v[2], (int)v[3], (float)v[4]);
                if (rect.X < 0 || rect.Y < 0 || rect.W <= 0 || rect.H <= 0 || rect.X + rect.W > w || rect.Y + rect.H > h)
                    throw new InvalidDataException($"{source}: feature {i} rect outside the {w}x{h} window.");
                return rect;
            }).ToArray();
            return new HaarFeature(rects);
        }).ToArray();

        var stages = cascade.Element("stages")!.Elements("_").Select((st, si) =>
        {
            float thr = (float)Double(st, "stageThreshold") - ThresholdEps;
            var trees = st.Element("weakClassifiers")!.Elements("_").Select(wc =>
            {
                var n = Numbers(wc.Element("internalNodes")!.Value);
                var leaves = Numbers(wc.Element("leafValues")!.Value).Select(v => (float)v).ToArray();
                if (n.Length % 4 != 0) throw new InvalidDataException($"{source}: stage {si}: internalNodes must come in fours.");
                var nodes = new Node[n.Length / 4];
                for (int k = 0; k < nodes.Length; k++)
                {
                    nodes[k] = new Node((int)n[4 * k], (int)n[4 * k + 1], (int)n[4 * k + 2], (float)n[4 * k + 3]);
                    if (nodes[k].Feature < 0 || nodes[k].Feature >= features.Length)
                        throw new InvalidDataException($"{source}: stage {si}: feature index {nodes[k].Feature} out of range.");
                    foreach (int child in new[] { nodes[k].Left, nodes[k].Right })
                        if (child > 0 ? child >= nodes.Length : -child >= leaves.Length)
                            throw new InvalidDataException($"{source}: stage {si}: child {child} out of range.");
                }
                return new Tree(nodes, leaves);
            }).ToArray();
            return new Stage(thr, trees);
        }).ToArray();
        if (stages.Length == 0) throw new InvalidDataException($"{source}: no stages.");
        return new HaarCascade(w, h, stages, features);
    }

    private static int Int(XElement e, string name) => (int)Double(e, name);

    private static double Double(XElement e, string name) =>
        double.Parse(e.Element(name)?.Value.Trim() ?? throw new InvalidDataException($"missing <{name}>"), CultureInfo.InvariantCulture);

    private static double[] Numbers(string text) =>
        text.Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Select(t => double.Parse(t, CultureInfo.InvariantCulture)).ToArray();
}
