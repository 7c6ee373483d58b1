using Pipeline.Imaging.Synthetic;
using SkiaSharp;

namespace Pipeline.Imaging.Tests.Synthetic;

public class SyntheticDataTests
{
    [Theory]
    [InlineData(FaceStyle.PhotoLike)]
    [InlineData(FaceStyle.AnimeLike)]
    public void FacesAreDeterministicBySeedAndDifferAcrossSeeds(FaceStyle style)
    {
        var a = SyntheticFaces.DrawPng(7, style, 64);
        Assert.Equal(a, SyntheticFaces.DrawPng(7, style, 64));
        Assert.NotEqual(a, SyntheticFaces.DrawPng(8, style, 64));
    }

    [Fact]
    public void PhotoDomainHasMoreHighFrequencyEnergyThanAnimeDomain()
    {
        // The property that makes the two domains distinguishable for translation: photo-like faces carry texture.
        double photo = 0, anime = 0;
        for (int seed = 0; seed < 8; seed++)
        {
            photo += Roughness(SyntheticFaces.Draw(seed, FaceStyle.PhotoLike, 128));
            anime += Roughness(SyntheticFaces.Draw(seed, FaceStyle.AnimeLike, 128));
        }
        Assert.True(photo > anime * 1.1, $"photo {photo:F1} vs anime {anime:F1}");
    }

    [Fact]
    public void LandscapeLabelsMatchTheirRenderedColoursAndUseSeveralClasses()
    {
        var s = SyntheticLandscapes.Draw(3, 96, 64);
        Assert.Equal(s.Width * s.Height, s.Labels.Length);
        Assert.All(s.Labels, l => Assert.InRange(l, 0, SyntheticLandscapes.Labels.Count - 1));
        Assert.True(s.Labels.Distinct().Count() >= 3);
        // Sky is above grass everywhere it is present in a column.
        for (int x = 0; x < s.Width; x++)
        {
            var col = Enumerable.Range(0, s.Height).Select(y => s.Labels[y * s.Width + x]).ToArray();
            int lastSky = Array.LastIndexOf(col, (byte)0), firstGrass = Array.IndexOf(col, (byte)4);
            if (lastSky >= 0 && firstGrass >= 0) Assert.True(lastSky < firstGrass);
        }
        using var label = SKBitmap.Decode(SyntheticLandscapes.LabelPng(s));
        Assert.Equal(SKColorType.Gray8, label.ColorType);
        Assert.Equal(s.Labels[10 * s.Width + 5], label.GetPixel(5, 10).Red);
    }

    private static double Roughness(SKBitmap b)
    {
        using (b)
        {
            double sum = 0;
            for (int y = 0; y < b.Height; y++)
                for (int x = 1; x < b.Width; x++)
                    sum += Math.Abs(b.GetPixel(x, y).Green - b.GetPixel(x - 1, y).Green) > 0 && Math.Abs(b.GetPixel(x, y).Green - b.GetPixel(x - 1, y).Green) < 24 ? 1 : 0;
            return sum / (b.Width * b.Height) * 1000;
        }
    }
}
