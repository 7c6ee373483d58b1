using Pipeline.Imaging.Faces;
using Pipeline.Tests;

namespace Pipeline.Imaging.Tests;

/// <summary>
/// The Debian-installed face models (build/prereqs.d/20-faces.sh), loaded once per test run. Tests skip with the
/// install command when a model is absent; PIPELINE_HAAR_CASCADE / PIPELINE_SHAPE_PREDICTOR override the paths.
/// </summary>
internal static class FaceModels
{
    private static readonly Lazy<FaceDetector> Detector = new(() => new FaceDetector(new FaceDetectorOptions { CascadePath = CascadePath }));
    private static readonly Lazy<ShapePredictor> Predictor = new(() => ShapePredictor.Load(PredictorPath));

    public static string CascadePath => Environment.GetEnvironmentVariable("PIPELINE_HAAR_CASCADE") ?? HaarCascade.DebianFrontalFaceAlt2;
    public static string PredictorPath => Environment.GetEnvironmentVariable("PIPELINE_SHAPE_PREDICTOR") ?? ShapePredictor.DebianShapePredictor68;

    public static FaceDetector RequireDetector()
    {
        Requirement.SkipUnless(File.Exists(CascadePath), $"Haar cascade missing at {CascadePath}: run build/prereqs.d/20-faces.sh (apt-get install opencv-data).");
        return Detector.Value;
    }

    public static ShapePredictor RequirePredictor()
    {
        Requirement.SkipUnless(File.Exists(PredictorPath), $"dlib shape predictor missing at {PredictorPath}: run build/prereqs.d/20-faces.sh (apt-get install libdlib-data).");
        return Predictor.Value;
    }

    public static RgbImage Photo(string name) => ImageDecoder.Decode(Synth.FixturePhoto(name)).GetValueOrThrow().Image;
}
