using Pipeline.Imaging.Faces;
using Pipeline.Imaging.Synthetic;

namespace Pipeline.Imaging.Tests.Synthetic;

/// <summary>
/// The synthetic selfies (the demo's uploads, the built-in photo-like data set) pass the real Haar face check that
/// selfie uploads go through, so the demo's outcome does not depend on whether opencv-data is installed.
/// </summary>
public class SyntheticSelfieFaceCheckTests
{
    [Fact]
    public void TheFrontalFaceCascadeFindsOneFaceInEveryPhotoLikeSeed()
    {
        var aligner = new FaceAligner(new FaceAlignmentOptions { CascadePath = FaceModels.CascadePath }, FaceModels.RequireDetector(), predictor: null);
        // 256 px is the demo's upload size; 0..149 covers the demo's seeds (0, 2, 3, 5) and then some.
        var missed = new List<string>();
        for (int seed = 0; seed < 150; seed++)
        {
            var image = ImageDecoder.Decode(SyntheticFaces.DrawPng(seed, FaceStyle.PhotoLike, 256)).GetValueOrThrow().Image;
            var check = aligner.Check(image);
            if (!check.IsSuccess) missed.Add($"{seed} ({check.Rejection!.Code})");
            else if (check.Value!.SignificantCount != 1) missed.Add($"{seed} ({check.Value.SignificantCount} significant faces)");
        }
        Assert.True(missed.Count == 0, "seeds failing the face check: " + string.Join(", ", missed));
    }
}
