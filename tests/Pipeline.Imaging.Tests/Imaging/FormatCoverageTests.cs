using System.Globalization;

namespace Pipeline.Imaging.Tests;

/// <summary>The raster variants the issue lists: PNG 16-bit/palette/interlaced/grey-alpha (our writer), JPEG progressive/CMYK/grey (Pillow).</summary>
public class FormatCoverageTests
{
    private static readonly DecodeLimits Small = new() { MinSide = 8 };
    private static readonly RgbImage Src = Synth.Smooth(67, 45);

    private static int[] Rgb(int x, int y)
    {
        var (r, g, b) = Src[x, y];
        return [r, g, b];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Png_16_bit_rgb_decodes_to_the_high_bytes(bool interlaced)
    {
        // 16-bit samples v·257 + noise in the low byte: 8-bit output must be the (rounded) high byte, i.e. the original v.
        var png = PngWriter.Write(Src.Width, Src.Height, 2, 16, (x, y) => Rgb(x, y).Select(v => v * 257 + (x * 7 + y) % 100 - 50).Select(v => Math.Clamp(v, 0, 65535)).ToArray(), interlaced: interlaced);
        var img = ImageDecoder.Decode(png, Small).GetValueOrThrow().Image;
        int maxDiff = Src.Pixels.Zip(img.Pixels, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff <= 1, $"max |diff| {maxDiff}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Png_palette_and_adam7_decode_exactly(bool interlaced)
    {
        var palette = new byte[256 * 3];
        for (int i = 0; i < 256; i++) { palette[3 * i] = (byte)i; palette[3 * i + 1] = (byte)(255 - i); palette[3 * i + 2] = (byte)(i * 3); }
        var png = PngWriter.Write(Src.Width, Src.Height, 3, 8, (x, y) => [(x * 5 + y * 3) % 256], palette, interlaced);
        var img = ImageDecoder.Decode(png, Small).GetValueOrThrow().Image;
        for (int y = 0; y < Src.Height; y++)
            for (int x = 0; x < Src.Width; x++)
            {
                int i = (x * 5 + y * 3) % 256;
                Assert.Equal((palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]), img[x, y]);
            }
    }

    [Fact]
    public void Png_grey_alpha_composites_over_white()
    {
        var png = PngWriter.Write(16, 16, 4, 8, (x, y) => [0, x < 8 ? 255 : 0]);
        var img = ImageDecoder.Decode(png, Small).GetValueOrThrow().Image;
        Assert.Equal(((byte)0, (byte)0, (byte)0), img[2, 5]);
        Assert.Equal(((byte)255, (byte)255, (byte)255), img[12, 5]);
    }

    [Theory]
    [InlineData("progressive")]
    [InlineData("cmyk")]
    [InlineData("grey")]
    public void Jpeg_variants_written_by_pillow_decode(string variant)
    {
        PillowReference.Require();
        var dir = Directory.CreateTempSubdirectory("jpegvar");
        try
        {
            var input = Path.Combine(dir.FullName, "in.png");
            var output = Path.Combine(dir.FullName, "out.jpg");
            File.WriteAllBytes(input, Synth.Smooth(160, 120).EncodePng());
            var bytes = PillowReference.Convert(input, output, variant);
            var d = ImageDecoder.Decode(bytes, Small).GetValueOrThrow();
            Assert.Equal(ImageFormat.Jpeg, d.Header.Format);
            var expected = Synth.Smooth(160, 120);
            if (variant == "grey")
            {
                // Compare against the luma of the source.
                var grey = expected.Clone();
                for (int i = 0; i < grey.Pixels.Length; i += 3)
                {
                    byte l = (byte)Math.Round(0.299 * grey.Pixels[i] + 0.587 * grey.Pixels[i + 1] + 0.114 * grey.Pixels[i + 2]);
                    grey.Pixels[i] = grey.Pixels[i + 1] = grey.Pixels[i + 2] = l;
                }
                expected = grey;
            }
            double psnr = Synth.Psnr(expected, d.Image);
            Assert.True(psnr > 30, string.Create(CultureInfo.InvariantCulture, $"{variant}: PSNR {psnr:F1} dB"));
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
