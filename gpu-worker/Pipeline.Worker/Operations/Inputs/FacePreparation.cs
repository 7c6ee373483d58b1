using System.Text.Json;
using Pipeline.Imaging;
using Pipeline.Imaging.Faces;
using Pipeline.Worker.Hosting;

namespace Pipeline.Worker.Operations.Inputs;

/// <summary>
/// Face alignment for operations that expect FFHQ-style inputs (Council GAN translation, StyleGAN2 projection), jobs
/// and CLI alike. The aligner is built
/// once from settings (Pipeline__Faces__CascadePath, Pipeline__Faces__ShapePredictorPath); without a cascade the
/// job runs on the centre-cropped image and the result says so.
/// </summary>
public sealed class FacePreparation(PipelineSettings settings)
{
    private readonly Lazy<FaceAligner?> _aligner = new(() => Create(settings));

    private static FaceAligner? Create(PipelineSettings s)
    {
        var cascade = s.Faces.CascadePath ?? HaarCascade.DebianFrontalFaceAlt2;
        if (!File.Exists(cascade)) return null;
        var predictor = s.Faces.ShapePredictorPath;
        return new FaceAligner(new FaceAlignmentOptions
        {
            CascadePath = cascade,
            ShapePredictorPath = predictor is not null && File.Exists(predictor) ? predictor : null,
            OutputSize = s.Faces.OutputSize,
        });
    }

    /// <summary>What happened to the input, stored as face.json beside the results.</summary>
    public sealed record Outcome(RgbImage Image, string Method, FaceAlignmentRecord? Face, string? Note);

    /// <summary>Aligns the face when asked and possible; a missing face is an <see cref="UnusableInputException"/> (for jobs: permanent, validation should have caught it).</summary>
    public Outcome Prepare(RgbImage image, bool align)
    {
        if (!align) return new Outcome(image, "none", null, "face alignment not requested");
        var aligner = _aligner.Value;
        if (aligner is null) return new Outcome(image, "none", null, "no face cascade configured (install opencv-data or set Pipeline__Faces__CascadePath)");
        var r = aligner.Align(image);
        if (r.Rejection is { } rej) throw new UnusableInputException($"face alignment failed ({rej.Code}): {rej.Message}");
        var face = r.Value!;
        var rec = face.ToRecord();
        return new Outcome(face.Image, rec.Method, rec, face.Method == AlignmentMethod.DetectionBoxFallback ? "no landmark model configured: centred crop from the detection box" : null);
    }

    public static byte[] ToJson(Outcome o) => JsonSerializer.SerializeToUtf8Bytes(new { method = o.Method, note = o.Note, face = o.Face }, new JsonSerializerOptions { WriteIndented = true });
}
