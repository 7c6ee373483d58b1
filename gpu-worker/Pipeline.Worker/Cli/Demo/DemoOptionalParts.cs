using Pipeline.Engine.Metrics;
using Pipeline.Imaging.Faces;

namespace Pipeline.Worker.Cli.Demo;

/// <summary>
/// The parts the demo runs better with but never needs (none is bundled): found where the worker and the upload
/// validation look for them, so the demo can say up front what each absent one changes in its results.
/// </summary>
internal static class DemoOptionalParts
{
    /// <param name="FoundAt">Where it was found; null when absent.</param>
    /// <param name="HowToGet">What installs it.</param>
    /// <param name="IfMissing">What the demo does differently without it.</param>
    public sealed record Part(string Name, string? FoundAt, string HowToGet, string IfMissing);

    public static IReadOnlyList<Part> Find(FeatureNetworkStore weights)
    {
        string? Existing(string path) => File.Exists(path) ? path : null;
        string? Weights(params FeatureNetworkFile[] files) =>
            files.Select(weights.Find).ToList() is var found && found.All(f => f is not null) ? string.Join(", ", found) : null;
        return
        [
            new("face cascade", Existing(HaarCascade.DebianFrontalFaceAlt2), "apt-get install opencv-data",
                "selfie uploads are accepted without a face check, and faces are not aligned before translation"),
            new("landmark model", Existing(ShapePredictor.DebianShapePredictor68), "apt-get install libdlib-data",
                "faces are aligned from the face detector's box instead of 68 landmarks"),
            new("Inception weights", Weights(FeatureNetworks.Inception), "pipeline models fetch inception",
                "FID and KID metric jobs record \"skipped\" (the demo queues none)"),
            new("VGG16 weights", Weights(FeatureNetworks.Vgg16, FeatureNetworks.LpipsVggHeads), "pipeline models fetch vgg16",
                "the PPL metric job records \"skipped\"; projection fits pixels (MSE) only and gives no generated-image verdict (LPIPS distance)"),
        ];
    }
}
