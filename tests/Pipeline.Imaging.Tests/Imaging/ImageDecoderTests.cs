using SkiaSharp;

namespace Pipeline.Imaging.Tests;

public class ImageDecoderTests
{
    private static readonly DecodeLimits Small = new() { MinSide = 8 };

    [Fact]
    public void Decodes_real_png_photo_at_full_size()
    {
        var bytes = Synth.FixturePhoto("astronaut.png");
        var header = ImageDecoder.Probe(bytes).GetValueOrThrow();
        Assert.Equal(ImageFormat.Png, header.Format);
        var decoded = ImageDecoder.Decode(bytes).GetValueOrThrow();
        Assert.Equal(header.Width, decoded.Image.Width);
        Assert.Equal(header.Height, decoded.Image.Height);
        Assert.Equal(1.0, decoded.Scale);
        // Re-encoding losslessly and decoding again must give the same pixels.
        var again = ImageDecoder.Decode(decoded.Image.EncodePng()).GetValueOrThrow();
        Assert.Equal(decoded.Image.Pixels, again.Image.Pixels);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Jpeg, ImageFormat.Jpeg, 30.0)]
    [InlineData(SKEncodedImageFormat.Webp, ImageFormat.Webp, 30.0)]
    [InlineData(SKEncodedImageFormat.Png, ImageFormat.Png, double.PositiveInfinity)]
    public void Round_trips_each_encoded_format(SKEncodedImageFormat encode, ImageFormat expected, double minPsnr)
    {
        var src = Synth.Smooth(120, 90);
        var decoded = ImageDecoder.Decode(src.Encode(encode, 95), Small).GetValueOrThrow();
        Assert.Equal(expected, decoded.Header.Format);
        Assert.True(Synth.Psnr(src, decoded.Image) >= minPsnr, $"PSNR {Synth.Psnr(src, decoded.Image):F1} dB");
    }

    [Fact]
    public void Applies_all_eight_exif_orientations()
    {
        var upright = Synth.Smooth(96, 64);
        for (int o = 1; o <= 8; o++)
        {
            var stored = Orientation.FromUpright(upright, o);
            var jpeg = Synth.WithExifOrientation(stored.EncodeJpeg(100), o);
            var header = ImageDecoder.Probe(jpeg, Small).GetValueOrThrow();
            Assert.Equal(o, header.ExifOrientation);
            Assert.Equal((96, 64), (header.Width, header.Height));
            Assert.Equal((stored.Width, stored.Height), (header.StoredWidth, header.StoredHeight));
            var img = ImageDecoder.Decode(jpeg, Small).GetValueOrThrow().Image;
            double psnr = Synth.Psnr(upright, img);
            Assert.True(psnr > 38, $"orientation {o}: PSNR {psnr:F1} dB against the upright original");
            // The same stored pixels shown without the orientation must differ (the test would catch a no-op).
            if (o is 2 or 3 or 4)
                Assert.True(Synth.Psnr(upright, Orientation.ToUpright(stored, 1)) < 20);
        }
    }

    [Fact]
    public void Orientation_tables_are_inverse_pairs()
    {
        var img = Synth.Smooth(7, 5);
        for (int o = 1; o <= 8; o++)
            Assert.Equal(img.Pixels, Orientation.ToUpright(Orientation.FromUpright(img, o), o).Pixels);
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Jpeg)]
    [InlineData(SKEncodedImageFormat.Webp)]
    public void Scaled_decode_matches_full_decode_then_resize(SKEncodedImageFormat format)
    {
        var big = Synth.Smooth(2400, 1800);
        var jpeg = big.Encode(format, 92);
        var full = ImageDecoder.Decode(jpeg).GetValueOrThrow().Image;
        var reference = Resampler.Resize(full, 256, 192);
        var fast = ImageDecoder.Decode(jpeg, targetMaxSide: 256).GetValueOrThrow();
        Assert.Equal((256, 192), (fast.Image.Width, fast.Image.Height));
        Assert.Equal(256.0 / 2400, fast.Scale, 6);
        Assert.True(Synth.Psnr(reference, fast.Image) > 35, $"PSNR {Synth.Psnr(reference, fast.Image):F1}");
    }

    [Fact]
    public void Target_size_never_enlarges()
    {
        var png = Synth.Smooth(100, 80).EncodePng();
        var d = ImageDecoder.Decode(png, Small, targetMaxSide: 1024).GetValueOrThrow();
        Assert.Equal((100, 80), (d.Image.Width, d.Image.Height));
    }

    [Fact]
    public void Png_alpha_is_composited_over_white()
    {
        using var bmp = new SKBitmap(new SKImageInfo(16, 16, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bmp.Erase(new SKColor(0, 0, 0, 0));
        using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
        var img = ImageDecoder.Decode(data.ToArray(), Small).GetValueOrThrow().Image;
        Assert.All(img.Pixels, p => Assert.Equal(255, p));
    }
}
