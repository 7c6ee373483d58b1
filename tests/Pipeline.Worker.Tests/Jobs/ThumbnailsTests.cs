using Pipeline.Imaging;
using Pipeline.Worker.Jobs.Shared;

namespace Pipeline.Worker.Tests.Jobs;

/// <summary>Gallery thumbnails: size rule, aspect, and content against the Pillow-exact Lanczos reduction.</summary>
public sealed class ThumbnailsTests
{
    [Theory]
    [InlineData(256, 256, 128, 128)]
    [InlineData(1024, 1024, 128, 128)]
    [InlineData(768, 256, 128, 43)]   // a 3-latent SOAT panorama at 256 px
    [InlineData(100, 400, 32, 128)]
    [InlineData(16, 16, 16, 16)]      // never enlarged
    [InlineData(128, 64, 128, 64)]
    [InlineData(5000, 10, 128, 1)]    // each side at least 1 px
    public void SizeKeepsAspectWithTheLongerSideAtMost128(int w, int h, int tw, int th) =>
        Assert.Equal((tw, th), Thumbnails.SizeOf(w, h));

    /// <summary>A smooth test image, so JPEG loss stays small and any wrong placement or scaling shows.</summary>
    private static RgbImage Smooth(int w, int h)
    {
        var img = new RgbImage(w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int o = (y * w + x) * 3;
                img.Pixels[o] = (byte)(255 * x / (w - 1));
                img.Pixels[o + 1] = (byte)(255 * y / (h - 1));
                img.Pixels[o + 2] = (byte)(127 + 100 * Math.Sin(x * 6.0 / w) * Math.Cos(y * 4.0 / h));
            }
        return img;
    }

    [Theory]
    [InlineData(480, 160)]
    [InlineData(200, 300)]
    [InlineData(64, 48)]
    public void ThumbnailIsTheLanczosReductionAsJpeg(int w, int h)
    {
        var source = Smooth(w, h);
        var thumb = Thumbnails.FromEncoded(source.EncodePng());
        Assert.True(thumb is [0xFF, 0xD8, ..], "not a JPEG");
        var (tw, th) = Thumbnails.SizeOf(w, h);
        var expected = (tw, th) == (w, h) ? source : Resampler.Resize(source, tw, th, ResampleFilter.Lanczos3);
        var (got, gw, gh) = DatasetBatches.Pixels(thumb);
        Assert.Equal((tw, th), (gw, gh));
        double mad = got.Zip(expected.Pixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(mad < 2.5, $"thumbnail is {mad:F2} levels from the Lanczos reduction");
    }

    [Fact]
    public void UndecodableBytesAreRejected() =>
        Assert.Throws<InvalidDataException>(() => Thumbnails.FromEncoded([1, 2, 3, 4]));
}
