using Pipeline.Imaging.Faces;

namespace Pipeline.Imaging.Tests;

public class FaceDetectorTests
{
    [Fact]
    public void Finds_exactly_one_face_on_the_astronaut_photo()
    {
        var detector = FaceModels.RequireDetector();
        var img = FaceModels.Photo("astronaut.png");
        var result = detector.Detect(img);
        Assert.Equal(1, result.Count);
        Assert.Equal(1, result.SignificantCount);
        var face = result.Chosen!;
        Assert.True(face.Neighbors > 5);
        // Independent check with a second cascade: OpenCV's eye detector finds eyes in the upper half of the face box.
        var eyes = new HaarDetector(HaarCascade.Load(Path.Combine(Path.GetDirectoryName(FaceModels.CascadePath)!, "haarcascade_eye.xml")), new HaarOptions { MinSize = 8, MinNeighbors = 3 });
        var box = face.CascadeBox;
        var crop = img.Crop(box.X, box.Y, box.X + box.Width, box.Y + box.Height);
        var found = eyes.Detect(crop).Where(e => e.Box.CenterY < box.Height * 0.6).ToList();
        Assert.True(found.Count >= 2, $"{found.Count} eyes in the upper face box");
        // The dlib-style box is the calibrated square around the same face.
        Assert.Equal(face.Box.Width, face.Box.Height);
        Assert.InRange(face.Box.Width, (int)(0.85 * box.Width), (int)(0.95 * box.Width));
    }

    [Theory]
    [InlineData("chelsea.png")]
    [InlineData("coffee.png")]
    public void Finds_no_human_face_on_cat_and_coffee_photos(string name)
    {
        var result = FaceModels.RequireDetector().Detect(FaceModels.Photo(name));
        Assert.Equal(0, result.Count);
        Assert.Null(result.Chosen);
    }

    [Fact]
    public void Finds_the_same_face_through_exif_rotation()
    {
        var detector = FaceModels.RequireDetector();
        var upright = FaceModels.Photo("astronaut.png");
        var reference = detector.Detect(upright).Chosen!.CascadeBox;
        // Stored sideways as a phone would (Orientation = 6), decoded upright by the decoder.
        var jpeg = Synth.WithExifOrientation(Orientation.FromUpright(upright, 6).EncodeJpeg(95), 6);
        var decoded = ImageDecoder.Decode(jpeg).GetValueOrThrow().Image;
        var result = detector.Detect(decoded);
        Assert.Equal(1, result.Count);
        var box = result.Chosen!.CascadeBox;
        Assert.True(Math.Abs(box.CenterX - reference.CenterX) < 0.1 * reference.Width && Math.Abs(box.CenterY - reference.CenterY) < 0.1 * reference.Width,
            $"{box} vs {reference}");
    }

    [Fact]
    public void Detection_scales_back_to_the_input_when_reduced_first()
    {
        var detector = FaceModels.RequireDetector();
        var img = FaceModels.Photo("astronaut.png");
        var reference = detector.Detect(img).Chosen!.CascadeBox;
        var big = Resampler.Resize(img, 1536, 1536);
        var box = detector.Detect(big).Chosen!.CascadeBox; // detection runs on an 800-px reduction
        Assert.True(Math.Abs(box.CenterX / 3 - reference.CenterX) < 0.1 * reference.Width, $"{box} vs {reference}");
        Assert.True(Math.Abs(box.Width / 3.0 - reference.Width) < 0.2 * reference.Width, $"{box} vs {reference}");
    }

    [Fact]
    public void Chooses_the_largest_then_the_most_central_face()
    {
        var o = new FaceDetectorOptions();
        DetectedFace F(int x, int y, int s) => new(new PixelRect(x, y, s, s), 10, o.Calibration.ToDlib(new PixelRect(x, y, s, s)));
        var small = F(480, 480, 20);
        var bigEdge = F(0, 0, 100);
        var bigCentre = F(450, 450, 95);
        var r = FaceDetector.Choose([small, bigEdge, bigCentre], 1000, 1000, o);
        Assert.Equal(bigCentre, r.Chosen);  // comparable size (≥ 80 %): the central one wins
        Assert.Equal(2, r.SignificantCount); // the 20-px face is background
        var r2 = FaceDetector.Choose([small, F(0, 0, 200), bigCentre], 1000, 1000, o);
        Assert.Equal(200, r2.Chosen!.CascadeBox.Width); // clearly larger wins over central
    }

    [Fact]
    public void Grouping_keeps_clusters_above_min_neighbors()
    {
        var rects = Enumerable.Range(0, 6).Select(i => new PixelRect(100 + i, 100 - i, 50 + i % 2, 50)).ToList();
        var g = HaarDetector.Group(rects, 5, 0.2);
        var (box, n) = Assert.Single(g);
        Assert.Equal(6, n);
        // Averages rounded like OpenCV's cvRound (half to even): x 615/6 = 102.5 → 102, y 585/6 = 97.5 → 98, w 50.5 → 50.
        Assert.Equal(new PixelRect(102, 98, 50, 50), box);
        Assert.Empty(HaarDetector.Group(rects.Take(5).ToList(), 5, 0.2));
    }

    [Fact]
    public void Cascade_loader_fails_clearly_on_missing_or_foreign_files()
    {
        var missing = Assert.Throws<FileNotFoundException>(() => HaarCascade.Load("/nonexistent/cascade.xml"));
        Assert.Contains("opencv-data", missing.Message);
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "<?xml version=\"1.0\"?><opencv_storage><cascade><stageType>BOOST</stageType><featureType>LBP</featureType><width>24</width><height>24</height></cascade></opencv_storage>");
            var lbp = Assert.Throws<InvalidDataException>(() => HaarCascade.Load(path));
            Assert.Contains("LBP", lbp.Message);
            File.WriteAllText(path, "<?xml version=\"1.0\"?><opencv_storage><haarcascade_frontalface/></opencv_storage>");
            Assert.Throws<InvalidDataException>(() => HaarCascade.Load(path));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
