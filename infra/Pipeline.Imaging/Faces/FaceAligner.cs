namespace Pipeline.Imaging.Faces;

/// <summary>Configuration of the face step shared by upload validation and the worker.</summary>
public sealed record FaceAlignmentOptions
{
    /// <summary>OpenCV Haar cascade XML (Debian opencv-data).</summary>
    public string CascadePath { get; init; } = HaarCascade.DebianFrontalFaceAlt2;

    /// <summary>
    /// dlib 68-point model. Null or empty: no landmarks, and alignment falls back to a centred crop from the detection box
    /// (flagged as <see cref="AlignmentMethod.DetectionBoxFallback"/>). Never bundled: see docs/imaging.md for its licence.
    /// </summary>
    public string? ShapePredictorPath { get; init; }

    /// <summary>Model input size (S); the quad is warped at 4·S and reduced with Lanczos, as FFHQ.</summary>
    public int OutputSize { get; init; } = 256;

    /// <summary>Reject images whose second face is comparable to the chosen one (code multiple_faces).</summary>
    public bool RejectMultipleFaces { get; init; }

    public FaceDetectorOptions Detector { get; init; } = new();
}

public enum AlignmentMethod
{
    /// <summary>NVIDIA FFHQ alignment from 68 dlib landmarks.</summary>
    FfhqLandmarks,
    /// <summary>No landmark model configured: an axis-aligned square around the detection box with FFHQ-like framing.</summary>
    DetectionBoxFallback,
}

/// <summary>The aligned face and everything needed to store next to the job's results.</summary>
public sealed record AlignedFace(
    RgbImage Image, AlignmentMethod Method, DetectedFace Face, int FaceCount, int SignificantFaceCount, PointF2[]? Landmarks, FfhqGeometry Geometry)
{
    /// <summary>A JSON-friendly summary (no pixels): method, counts, boxes, landmarks and the source quad.</summary>
    public FaceAlignmentRecord ToRecord() => new(
        Method == AlignmentMethod.FfhqLandmarks ? "ffhq_landmarks" : "detection_box_fallback",
        FaceCount, SignificantFaceCount,
        [Face.Box.Left, Face.Box.Top, Face.Box.Right, Face.Box.Bottom],
        Landmarks?.Select(p => new[] { p.X, p.Y }).ToArray(),
        Geometry.SourceQuad.Select(p => new[] { p.X, p.Y }).ToArray(),
        Image.Width);
}

/// <summary>Serializable face metadata stored beside job outputs (coordinates in the decoded upright image).</summary>
public sealed record FaceAlignmentRecord(string Method, int FaceCount, int SignificantFaceCount, int[] DlibBox, double[][]? Landmarks, double[][] SourceQuad, int OutputSize);

/// <summary>
/// Detect → choose → landmarks → FFHQ align. Load once (the landmark model takes ~0.5 s and ~70 MB) and share across
/// requests; all methods are thread-safe.
/// </summary>
public sealed class FaceAligner
{
    // Fallback framing, fitted from the spec's test vector (dlib box 386 px → FFHQ quad 712 px, centre 0.2·w above the box centre).
    internal const double FallbackSideOverBox = 1.845;
    internal const double FallbackCenterUp = 0.2;

    private readonly FaceAlignmentOptions _options;
    private readonly FaceDetector _detector;
    private readonly ShapePredictor? _predictor;

    public FaceAligner(FaceAlignmentOptions options)
        : this(options, new FaceDetector(options.Detector with { CascadePath = options.CascadePath }),
              string.IsNullOrEmpty(options.ShapePredictorPath) ? null : ShapePredictor.Load(options.ShapePredictorPath))
    {
    }

    /// <summary>With already-loaded models (tests, or hosts that share them).</summary>
    public FaceAligner(FaceAlignmentOptions options, FaceDetector detector, ShapePredictor? predictor)
    {
        _options = options;
        _detector = detector;
        _predictor = predictor;
    }

    public bool HasLandmarkModel => _predictor is not null;

    /// <summary>The upload check: a face must be present (no_face) and, if configured, only one (multiple_faces).</summary>
    public ImageResult<FaceDetectionResult> Check(RgbImage image)
    {
        var r = _detector.Detect(image);
        if (r.Count == 0)
            return ImageResult<FaceDetectionResult>.Reject(RejectionCodes.NoFace, "No face was found. Upload a well-lit, front-facing photo of one face.");
        if (_options.RejectMultipleFaces && r.SignificantCount > 1)
            return ImageResult<FaceDetectionResult>.Reject(RejectionCodes.MultipleFaces, $"{r.SignificantCount} faces were found; upload a photo with exactly one face.");
        return ImageResult<FaceDetectionResult>.Ok(r);
    }

    /// <summary>Detects, chooses and aligns the face; rejections as <see cref="Check"/>.</summary>
    public ImageResult<AlignedFace> Align(RgbImage image)
    {
        var check = Check(image);
        if (!check.IsSuccess) return ImageResult<AlignedFace>.Reject(check.Rejection!);
        var detection = check.Value!;
        var face = detection.Chosen!;
        int s = _options.OutputSize;
        if (_predictor is not null)
        {
            var landmarks = _predictor.Predict(image, face.Box);
            var (aligned, g) = FfhqAligner.Align(image, landmarks, s);
            return ImageResult<AlignedFace>.Ok(new AlignedFace(aligned, AlignmentMethod.FfhqLandmarks, face, detection.Count, detection.SignificantCount, landmarks, g));
        }
        var plan = FallbackPlan(image.Width, image.Height, face.Box, s);
        var (img, geometry) = FfhqAligner.Warp(image, plan, s);
        return ImageResult<AlignedFace>.Ok(new AlignedFace(img, AlignmentMethod.DetectionBoxFallback, face, detection.Count, detection.SignificantCount, null, geometry));
    }

    /// <summary>The fallback's crop geometry for a dlib box (what <see cref="Align"/> uses without a landmark model).</summary>
    public static FfhqGeometry FallbackPlanFor(int width, int height, DlibRect box, int outputSize) => FallbackPlan(width, height, box, outputSize);

    internal static FfhqGeometry FallbackPlan(int width, int height, DlibRect box, int outputSize)
    {
        double w = box.Width;
        var c = new PointF2(box.CenterX, box.CenterY - FallbackCenterUp * w);
        return FfhqAligner.PlanQuad(width, height, c, new PointF2(FallbackSideOverBox * w / 2, 0), outputSize);
    }
}
