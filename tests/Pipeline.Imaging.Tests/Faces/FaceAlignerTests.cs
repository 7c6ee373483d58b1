using System.Text.Json;
using Pipeline.Imaging.Faces;

namespace Pipeline.Imaging.Tests;

public class FaceAlignerTests
{
    private static FaceAligner Aligner(bool landmarks, bool rejectMultiple = false) =>
        new(new FaceAlignmentOptions { RejectMultipleFaces = rejectMultiple }, FaceModels.RequireDetector(), landmarks ? FaceModels.RequirePredictor() : null);

    [Fact]
    public void Aligns_the_astronaut_with_landmarks()
    {
        var a = Aligner(true).Align(FaceModels.Photo("astronaut.png")).GetValueOrThrow();
        Assert.Equal(AlignmentMethod.FfhqLandmarks, a.Method);
        Assert.Equal((256, 256), (a.Image.Width, a.Image.Height));
        Assert.Equal(1, a.FaceCount);
        var record = a.ToRecord();
        Assert.Equal("ffhq_landmarks", record.Method);
        Assert.Equal(68, record.Landmarks!.Length);
        var json = JsonSerializer.Serialize(record);
        Assert.Equal(record.Landmarks[36], JsonSerializer.Deserialize<FaceAlignmentRecord>(json)!.Landmarks![36]);
    }

    [Fact]
    public void Falls_back_to_a_box_crop_close_to_the_landmark_framing()
    {
        var img = FaceModels.Photo("astronaut.png");
        var withLm = Aligner(true).Align(img).GetValueOrThrow();
        var fallback = Aligner(false).Align(img).GetValueOrThrow();
        Assert.Equal(AlignmentMethod.DetectionBoxFallback, fallback.Method);
        Assert.Null(fallback.Landmarks);
        Assert.Equal("detection_box_fallback", fallback.ToRecord().Method);
        Assert.Equal((256, 256), (fallback.Image.Width, fallback.Image.Height));
        // Framing constants came from one reference face; on another face they must land near the FFHQ quad.
        double q = withLm.Geometry.QSize;
        Assert.InRange(fallback.Geometry.QSize / q, 0.8, 1.25);
        Assert.True(Math.Abs(fallback.Geometry.Center.X - withLm.Geometry.Center.X) < 0.1 * q, $"{fallback.Geometry.Center} vs {withLm.Geometry.Center}");
        Assert.True(Math.Abs(fallback.Geometry.Center.Y - withLm.Geometry.Center.Y) < 0.1 * q, $"{fallback.Geometry.Center} vs {withLm.Geometry.Center}");
    }

    [Fact]
    public void Rejects_photos_without_a_face()
    {
        var r = Aligner(false).Align(FaceModels.Photo("chelsea.png"));
        Assert.Equal(RejectionCodes.NoFace, r.Rejection?.Code);
    }

    [Fact]
    public void Multiple_faces_are_rejected_only_when_configured()
    {
        var one = FaceModels.Photo("astronaut.png");
        var two = new RgbImage(one.Width * 2, one.Height);
        for (int y = 0; y < one.Height; y++)
        {
            Buffer.BlockCopy(one.Pixels, y * one.Stride, two.Pixels, y * two.Stride, one.Stride);
            Buffer.BlockCopy(one.Pixels, y * one.Stride, two.Pixels, y * two.Stride + one.Stride, one.Stride);
        }
        var ok = Aligner(false).Check(two).GetValueOrThrow();
        Assert.Equal(2, ok.Count);
        Assert.Equal(2, ok.SignificantCount);
        Assert.Equal(RejectionCodes.MultipleFaces, Aligner(false, rejectMultiple: true).Check(two).Rejection?.Code);
        Assert.True(Aligner(false, rejectMultiple: true).Check(one).IsSuccess);
    }
}
