using System.Text.Json;
using Pipeline.Imaging.Faces;

namespace Pipeline.Imaging.Tests;

public class FfhqAlignerTests(ITestOutputHelper output)
{
    /// <summary>Spec §5.2/§6.4 test vector: dlib landmarks of Tom_Cruise_avp_2014_4.jpg (565×800); only 36–47, 48 and 54 matter.</summary>
    private static PointF2[] SpecLandmarks()
    {
        var p = new PointF2[68];
        (int, int)[] eyes = [(160, 377), (182, 367), (206, 371), (229, 389), (203, 386), (179, 384), (334, 400), (358, 385), (383, 388), (406, 401), (383, 404), (358, 402)];
        for (int i = 0; i < 12; i++) p[36 + i] = new PointF2(eyes[i].Item1, eyes[i].Item2);
        p[48] = new PointF2(168, 544);
        p[54] = new PointF2(371, 569);
        return p;
    }

    private static void Near(double expected, double actual, double tol = 1e-3) =>
        Assert.True(Math.Abs(expected - actual) <= tol, $"expected {expected}, got {actual}");

    private static void Near(PointF2 p, double x, double y, double tol = 1e-3)
    {
        Near(x, p.X, tol);
        Near(y, p.Y, tol);
    }

    [Theory]
    [InlineData(1024, 4096)]
    [InlineData(256, 256)]
    [InlineData(256, 1024)]
    public void Reproduces_the_spec_test_vector(int output, int transform)
    {
        var g = FfhqAligner.Plan(565, 800, SpecLandmarks(), output, transform);
        Near(g.EyeLeft, 193.1667, 379.0, 1e-4);
        Near(g.EyeRight, 370.3333, 396.6667, 1e-4);
        Near(g.MouthAvg, 269.5, 556.5);
        Near(g.X, 354.7657, 30.6894, 1e-4);
        Near(g.Y, -30.6894, 354.7657, 1e-4);
        Near(g.Center, 280.525, 404.7);
        Near(712.1813, g.QSize, 1e-4);
        Near(g.SourceQuad[0], -43.551, 19.245);
        Near(g.SourceQuad[1], -104.930, 728.776);
        Near(g.SourceQuad[2], 604.601, 790.155);
        Near(g.SourceQuad[3], 665.980, 80.624);
        Assert.True(g.Shrink <= 1);
        Assert.Equal(71, g.Border);
        Assert.False(g.Cropped);
        Assert.Equal((0, 0, 565, 800), g.Crop);
        Assert.Equal((176, 52, 172, 62), g.RawPad);
        Assert.True(g.Padded);
        Assert.Equal((214, 214, 214, 214), g.Pad);
        Assert.Equal((993, 1228), (g.WarpedWidth, g.WarpedHeight));
        Near(g.Quad[0], 170.449, 233.245);
        Near(g.Quad[1], 109.070, 942.776);
        Near(g.Quad[2], 818.601, 1004.155);
        Near(g.Quad[3], 879.980, 294.624);
    }

    [Fact]
    public void Shrinks_and_crops_large_faces()
    {
        // The same face at 4× scale in a larger canvas: shrink = floor(2849/256/2) = 5, then a crop around the quad.
        var lm = SpecLandmarks().Select(p => new PointF2(p.X * 4 + 1000, p.Y * 4 + 500)).ToArray();
        var g = FfhqAligner.Plan(5000, 5000, lm, 256, 1024);
        Assert.Equal(5, g.Shrink);
        Assert.Equal((1000, 1000), (g.ShrunkWidth, g.ShrunkHeight));
        Near(712.1813 * 4 / 5, g.QSize, 1e-3);
        Assert.True(g.Cropped);
        // The quad's corners are the source corners scaled by 1/5 and shifted by the crop (and pad) offsets.
        var offX = g.Crop.L - (g.Padded ? g.Pad.L : 0);
        Near(g.Quad[0].X + offX, g.SourceQuad[0].X / 5, 1e-6);
    }

    [Fact]
    public void Alignment_output_has_level_centred_eyes()
    {
        var img = FaceModels.Photo("astronaut.png");
        var face = FaceModels.RequireDetector().Detect(img).Chosen!;
        var lm = FaceModels.RequirePredictor().Predict(img, face.Box);
        var (aligned, g) = FfhqAligner.Align(img, lm, 256);
        Assert.Equal((256, 256), (aligned.Width, aligned.Height));
        // Map the eye centres through the quad (affine): FFHQ puts their midpoint at x = 0.5 and the line level.
        var (u1, v1) = ToUnit(g, g.EyeLeft);
        var (u2, v2) = ToUnit(g, g.EyeRight);
        Near(0.5, (u1 + u2) / 2, 0.05);
        Near(v1, v2, 0.01);
        // Re-detecting on the aligned output finds the face, centred.
        var again = FaceModels.RequireDetector().Detect(aligned);
        Assert.Equal(1, again.Count);
        Near(128, again.Chosen!.CascadeBox.CenterX, 16);
    }

    private static (double U, double V) ToUnit(FfhqGeometry g, PointF2 p)
    {
        // Source quad corners: Q0 top-left, Q1 bottom-left, Q3 top-right.
        var q0 = g.SourceQuad[0];
        double ax = g.SourceQuad[3].X - q0.X, ay = g.SourceQuad[3].Y - q0.Y, bx = g.SourceQuad[1].X - q0.X, by = g.SourceQuad[1].Y - q0.Y;
        double det = ax * by - ay * bx, dx = p.X - q0.X, dy = p.Y - q0.Y;
        return ((dx * by - dy * bx) / det, (ax * dy - ay * dx) / det);
    }

    [Theory, Trait("Category", "Parity")]
    [InlineData(100, 77)]
    [InlineData(512, 300)]
    [InlineData(700, 900)]
    public void Lanczos_resize_matches_pillow(int w, int h)
    {
        PillowReference.Require();
        var img = FaceModels.Photo("astronaut.png");
        var dir = Directory.CreateTempSubdirectory("pillow");
        try
        {
            var input = Path.Combine(dir.FullName, "in.png");
            File.WriteAllBytes(input, img.EncodePng());
            var reference = PillowReference.Call("resize", input, w.ToString(), h.ToString(), Path.Combine(dir.FullName, "out.png"));
            var ours = Resampler.Resize(img, w, h, ResampleFilter.Lanczos3);
            Assert.Equal(reference.Pixels, ours.Pixels);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Theory, Trait("Category", "Parity")]
    [InlineData(256, 1024, false)]
    [InlineData(128, 128, false)]
    [InlineData(256, 1024, true)]
    [InlineData(64, 256, true)]
    public void Alignment_matches_the_pillow_reference(int size, int transform, bool tightCrop)
    {
        PillowReference.Require();
        var img = FaceModels.Photo("astronaut.png");
        if (tightCrop)
        {
            // A tight selfie crop: the FFHQ quad leaves the image, so the reflect-pad + blur + median path runs.
            var b = FaceModels.RequireDetector().Detect(img).Chosen!.CascadeBox;
            img = img.Crop(b.X - 10, b.Y - 5, b.X + b.Width + 10, b.Y + b.Height + 15);
        }
        var lm = FaceModels.RequirePredictor().Predict(img, FaceModels.RequireDetector().Detect(img).Chosen!.Box);
        var dir = Directory.CreateTempSubdirectory("ffhq");
        try
        {
            var input = Path.Combine(dir.FullName, "in.png");
            var lmPath = Path.Combine(dir.FullName, "lm.json");
            File.WriteAllBytes(input, img.EncodePng());
            File.WriteAllText(lmPath, JsonSerializer.Serialize(lm.Select(p => new[] { p.X, p.Y })));
            var reference = PillowReference.Call("align", input, lmPath, size.ToString(), transform.ToString(), Path.Combine(dir.FullName, "out.png"));
            var (ours, g) = FfhqAligner.Align(img, lm, size, transform);
            Assert.Equal(tightCrop, g.Padded);
            int maxDiff = 0, differing = 0;
            for (int i = 0; i < ours.Pixels.Length; i++)
            {
                int d = Math.Abs(ours.Pixels[i] - reference.Pixels[i]);
                maxDiff = Math.Max(maxDiff, d);
                if (d > 0) differing++;
            }
            output.WriteLine($"{size}/{transform}: max |diff| {maxDiff}, {differing} of {ours.Pixels.Length} values differ");
            // Bit-exact: same coefficients, same float32/double split, same rounding as Pillow 9.4 / numpy / scipy.
            Assert.True(maxDiff == 0, $"max |diff| {maxDiff}, {differing} of {ours.Pixels.Length} values differ");
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
