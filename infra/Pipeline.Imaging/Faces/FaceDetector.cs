namespace Pipeline.Imaging.Faces;

/// <summary>A dlib rectangle: inclusive pixel bounds, as dlib's shape predictor expects.</summary>
public readonly record struct DlibRect(int Left, int Top, int Right, int Bottom)
{
    public int Width => Right - Left + 1;
    public int Height => Bottom - Top + 1;
    public double CenterX => (Left + Right) / 2.0;
    public double CenterY => (Top + Bottom) / 2.0;

    public DlibRect Scale(double s) => new(
        (int)Math.Round(Left * s), (int)Math.Round(Top * s), (int)Math.Round((Right + 1) * s) - 1, (int)Math.Round((Bottom + 1) * s) - 1);
}

/// <summary>
/// Maps a cascade box to the box dlib's HOG detector would give for the same face (the shape predictor was trained on
/// those). Constants are the medians fitted in the spec (§5.1) over 59 matched faces for frontalface_alt2.
/// </summary>
public sealed record BoxCalibration(double CenterDx, double CenterDy, double Side)
{
    public static BoxCalibration FrontalFaceAlt2 { get; } = new(-0.018, 0.056, 0.902);
    public static BoxCalibration FrontalFaceDefault { get; } = new(-0.011, 0.046, 0.881);

    public DlibRect ToDlib(PixelRect r)
    {
        double w = r.Width;
        double cx = r.CenterX + CenterDx * w, cy = r.CenterY + CenterDy * w;
        int side = Math.Max(1, (int)Math.Round(Side * w));
        int left = (int)Math.Round(cx - side / 2.0), top = (int)Math.Round(cy - side / 2.0);
        return new DlibRect(left, top, left + side - 1, top + side - 1);
    }
}

/// <summary>One detected face: the cascade's box, its neighbour count (confidence) and the dlib-style box.</summary>
public sealed record DetectedFace(PixelRect CascadeBox, int Neighbors, DlibRect Box);

/// <summary>
/// All faces (preferred first), the chosen one, and how many are "significant" (area at least
/// <see cref="FaceDetectorOptions.SignificantAreaRatio"/> of the chosen face): small background faces do not count as a second person.
/// </summary>
public sealed record FaceDetectionResult(IReadOnlyList<DetectedFace> Faces, int SignificantCount)
{
    public DetectedFace? Chosen => Faces.Count > 0 ? Faces[0] : null;
    public int Count => Faces.Count;
}

public sealed record FaceDetectorOptions
{
    /// <summary>Path of the OpenCV Haar cascade XML (Debian opencv-data by default).</summary>
    public string CascadePath { get; init; } = HaarCascade.DebianFrontalFaceAlt2;
    public HaarOptions Haar { get; init; } = new();
    public BoxCalibration Calibration { get; init; } = BoxCalibration.FrontalFaceAlt2;
    /// <summary>Faces within this area ratio of the largest compete on centrality instead of size.</summary>
    public double ComparableAreaRatio { get; init; } = 0.8;
    public double SignificantAreaRatio { get; init; } = 0.25;
}

/// <summary>
/// Finds faces and chooses one deliberately: the largest, and among faces of comparable size (≥ 80 % of the largest
/// area) the one nearest the image centre. Thread-safe; load once and reuse (parsing the XML costs ~100 ms).
/// </summary>
public sealed class FaceDetector
{
    private readonly HaarDetector _haar;
    private readonly FaceDetectorOptions _options;

    public FaceDetector(FaceDetectorOptions? options = null)
    {
        _options = options ?? new FaceDetectorOptions();
        _haar = new HaarDetector(HaarCascade.Load(_options.CascadePath), _options.Haar);
    }

    public FaceDetectionResult Detect(RgbImage image)
    {
        var faces = _haar.Detect(image)
            .Select(d => new DetectedFace(d.Box, d.Neighbors, _options.Calibration.ToDlib(d.Box)))
            .ToList();
        return Choose(faces, image.Width, image.Height, _options);
    }

    internal static FaceDetectionResult Choose(List<DetectedFace> faces, int width, int height, FaceDetectorOptions options)
    {
        if (faces.Count == 0) return new FaceDetectionResult([], 0);
        long largest = faces.Max(f => f.CascadeBox.Area);
        double cx = width / 2.0, cy = height / 2.0;
        double Dist(DetectedFace f) => Math.Pow(f.CascadeBox.CenterX - cx, 2) + Math.Pow(f.CascadeBox.CenterY - cy, 2);
        var ordered = faces
            .OrderByDescending(f => f.CascadeBox.Area >= options.ComparableAreaRatio * largest)
            .ThenBy(f => f.CascadeBox.Area >= options.ComparableAreaRatio * largest ? Dist(f) : 0)
            .ThenByDescending(f => f.CascadeBox.Area)
            .ToList();
        long chosenArea = ordered[0].CascadeBox.Area;
        int significant = ordered.Count(f => f.CascadeBox.Area >= options.SignificantAreaRatio * chosenArea);
        return new FaceDetectionResult(ordered, significant);
    }
}
