using Pipeline.Imaging.Faces;

namespace Pipeline.Imaging.Tests;

public class ShapePredictorTests
{
    [Fact]
    public void Reads_the_debian_68_point_model_with_the_spec_check_values()
    {
        var sp = FaceModels.RequirePredictor();
        Assert.Equal(68, sp.Parts);
        Assert.Equal(15, sp.CascadeLevels);
        Assert.Equal(500, sp.TreesPerLevel);
        Assert.Equal(500, sp.FeaturePixels);
        float[] initial = [0.029445792f, 0.32194993f, 0.03262613f, 0.4464312f, 0.045943487f, 0.5704283f];
        Assert.Equal(initial, sp.InitialShape[..6].ToArray());
        Assert.Equal((39, 132, 34.543655f), sp.Split(0, 0, 0));
        Assert.Equal([41, 42, 36, 54, 31], Enumerable.Range(0, 5).Select(i => sp.FeaturePixel(0, i).Anchor));
        Assert.Equal((-0.049369767f, 0.07312441f), (sp.FeaturePixel(0, 0).Dx, sp.FeaturePixel(0, 0).Dy));
    }

    [Fact]
    public void Rejects_damaged_model_files_with_a_clear_error()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [0x01, 0x01, 0x81, 0x88, 0x81, 0x01, 0x7F]);
            var e = Assert.Throws<InvalidDataException>(() => ShapePredictor.Load(path));
            Assert.Contains("dlib shape predictor", e.Message);
            Assert.Throws<FileNotFoundException>(() => ShapePredictor.Load(path + ".missing"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Landmarks_on_the_astronaut_face_are_anatomically_ordered()
    {
        var sp = FaceModels.RequirePredictor();
        var img = FaceModels.Photo("astronaut.png");
        var face = FaceModels.RequireDetector().Detect(img).Chosen!;
        var p = sp.Predict(img, face.Box);
        Assert.Equal(68, p.Length);
        Assert.All(p, q => Assert.True(q.X == Math.Floor(q.X) && q.Y == Math.Floor(q.Y), "dlib returns integer points"));
        var eyeL = Mean(p, 36, 42);
        var eyeR = Mean(p, 42, 48);
        var mouth = Mean(p, 48, 68);
        var nose = p[30];
        var b = face.Box;
        Assert.True(eyeL.X < nose.X && nose.X < eyeR.X, "nose between the eyes");
        Assert.True(Math.Max(eyeL.Y, eyeR.Y) < nose.Y && nose.Y < mouth.Y, "eyes above nose above mouth");
        Assert.True(p[8].Y > mouth.Y, "chin below the mouth");
        double iod = eyeR.X - eyeL.X;
        Assert.InRange(iod / b.Width, 0.25, 0.6);
        Assert.All(p, q => Assert.True(q.X > b.Left - 0.3 * b.Width && q.X < b.Right + 0.3 * b.Width && q.Y > b.Top - 0.3 * b.Height && q.Y < b.Bottom + 0.3 * b.Height));
    }

    [Fact]
    public void Landmarks_scale_with_the_image()
    {
        // The predictor works in box-normalised coordinates: 2× image and 2× box give 2× points (up to resampling and rounding).
        var sp = FaceModels.RequirePredictor();
        var img = FaceModels.Photo("astronaut.png");
        var box = FaceModels.RequireDetector().Detect(img).Chosen!.Box;
        var p1 = sp.Predict(img, box);
        var p2 = sp.Predict(Resampler.Resize(img, img.Width * 2, img.Height * 2), new DlibRect(box.Left * 2, box.Top * 2, box.Right * 2 + 1, box.Bottom * 2 + 1));
        double iod = Mean(p1, 42, 48).X - Mean(p1, 36, 42).X;
        var err = p1.Zip(p2, (a, b) => Math.Sqrt(Math.Pow(a.X - b.X / 2, 2) + Math.Pow(a.Y - b.Y / 2, 2))).ToArray();
        Assert.True(err.Average() < 0.05 * iod, $"mean {err.Average():F2} px, inter-ocular {iod:F1} px");
    }

    public static TheoryData<string, int, int, int> ParityCases() => new()
    {
        // Image, then a box as (dx, dy, dside) around the detected face (or a fixed central box where there is no face):
        // perturbed boxes exercise other tree paths and out-of-image feature pixels.
        { "astronaut.png", 0, 0, 0 },
        { "astronaut.png", 7, -5, 12 },
        { "astronaut.png", -20, 10, -30 },
        { "astronaut.png", 150, 200, 120 },
        { "chelsea.png", 0, 0, 0 },
        { "coffee.png", 0, 0, 0 },
    };

    [Theory, Trait("Category", "Parity")]
    [MemberData(nameof(ParityCases))]
    public void Matches_dlib_point_for_point(string photo, int dx, int dy, int dside)
    {
        var sp = FaceModels.RequirePredictor();
        DlibReference.Require();
        var img = FaceModels.Photo(photo);
        var chosen = FaceModels.RequireDetector().Detect(img).Chosen;
        var b = chosen?.Box ?? new DlibRect(img.Width / 4, img.Height / 4, img.Width / 4 + 149, img.Height / 4 + 149);
        var box = new DlibRect(b.Left + dx, b.Top + dy, b.Right + dx + dside, b.Bottom + dy + dside);
        var ours = sp.Predict(img, box);
        var reference = DlibReference.Predict(FaceModels.PredictorPath, img, box);
        Assert.Equal(reference, ours);
    }

    private static PointF2 Mean(PointF2[] p, int from, int to) =>
        new(p[from..to].Average(q => q.X), p[from..to].Average(q => q.Y));
}
