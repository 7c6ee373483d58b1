using System.Text;
using SkiaSharp;

namespace Pipeline.Imaging.Tests;

/// <summary>A corpus of hostile or broken uploads: each must end in the expected typed rejection, cheaply.</summary>
public class BadUploadTests
{
    private static readonly DecodeLimits Small = new() { MinSide = 8 };

    private static byte[] Jpeg() => Synth.Smooth(320, 240).EncodeJpeg(90);

    private static byte[] Png() => Synth.Smooth(320, 240).EncodePng();

    public static TheoryData<string> Cases() =>
    [
        "empty", "truncated_jpeg_50", "truncated_jpeg_header_only", "truncated_png", "corrupt_png_idat", "truncated_webp",
        "random_bytes", "svg", "svg_named_png", "html", "text", "heic", "bmp", "tiff", "png_header_30000", "png_header_1000000",
        "jpeg_sof_20000", "jpeg_sof_65500", "fifty_megabytes", "tiny_png", "png_gif_signature_mismatch",
    ];

    private static (byte[] Bytes, string Code) Build(string name)
    {
        var jpeg = Jpeg();
        var png = Png();
        return name switch
        {
            "empty" => ([], RejectionCodes.NotAnImage),
            "truncated_jpeg_50" => (jpeg[..(jpeg.Length / 2)], RejectionCodes.Corrupt),
            "truncated_jpeg_header_only" => (jpeg[..Math.Min(jpeg.Length, 700)], RejectionCodes.Corrupt),
            "truncated_png" => (png[..(png.Length * 2 / 3)], RejectionCodes.Corrupt),
            "corrupt_png_idat" => (Flip(png, png.Length / 2, 64), RejectionCodes.Corrupt),
            "truncated_webp" => (Trunc(Synth.Smooth(320, 240).EncodeWebp(90), 0.5), RejectionCodes.Corrupt),
            "random_bytes" => (Random(100_000), RejectionCodes.NotAnImage),
            "svg" => (Encoding.UTF8.GetBytes("<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100000\" height=\"100000\"><rect width=\"100%\" height=\"100%\"/></svg>"), RejectionCodes.NotAnImage),
            "svg_named_png" => (Encoding.UTF8.GetBytes("\n  <svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"), RejectionCodes.NotAnImage),
            "html" => (Encoding.UTF8.GetBytes("<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"), RejectionCodes.NotAnImage),
            "text" => (Encoding.UTF8.GetBytes("just some text that claims to be a photo.jpg"), RejectionCodes.NotAnImage),
            "heic" => ([0, 0, 0, 0x18, .. "ftypheic"u8, 0, 0, 0, 0, .. "mif1heic"u8], RejectionCodes.UnsupportedFormat),
            "bmp" => ([.. "BM"u8, .. new byte[60]], RejectionCodes.UnsupportedFormat),
            "tiff" => ([.. "II*\0"u8, .. new byte[60]], RejectionCodes.UnsupportedFormat),
            "png_header_30000" => (Synth.PngHeaderOnly(30000, 30000), RejectionCodes.DimensionsTooLarge),
            "png_header_1000000" => (Synth.PngHeaderOnly(1_000_000, 1_000_000), RejectionCodes.DimensionsTooLarge),
            "jpeg_sof_20000" => (Synth.JpegWithPatchedSof(jpeg, 20000, 20000), RejectionCodes.DimensionsTooLarge),
            "jpeg_sof_65500" => (Synth.JpegWithPatchedSof(jpeg, 65500, 65500), RejectionCodes.DimensionsTooLarge),
            "fifty_megabytes" => ([.. jpeg, .. new byte[50 * 1024 * 1024]], RejectionCodes.TooLarge),
            "tiny_png" => (Synth.Smooth(4, 4).EncodePng(), RejectionCodes.TooSmall),
            "png_gif_signature_mismatch" => ([.. "GIF89a"u8, .. png[6..]], RejectionCodes.Corrupt),
            _ => throw new ArgumentException("unknown case " + name),
        };
    }

    [Theory, MemberData(nameof(Cases))]
    public void Bad_upload_gets_its_typed_rejection(string name)
    {
        var (bytes, code) = Build(name);
        var limits = name == "tiny_png" ? DecodeLimits.Default : Small;
        long before = GC.GetAllocatedBytesForCurrentThread();
        var result = ImageDecoder.Decode(bytes, limits);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.False(result.IsSuccess, $"{name} decoded");
        Assert.Equal(code, result.Rejection!.Code);
        Assert.False(string.IsNullOrWhiteSpace(result.Rejection.Message));
        // Header-level rejections must not allocate a pixel buffer (the 320x240 seed needs 300 KB RGBA; bombs need GBs).
        if (code is RejectionCodes.DimensionsTooLarge or RejectionCodes.NotAnImage or RejectionCodes.UnsupportedFormat or RejectionCodes.TooLarge or RejectionCodes.TooSmall)
            Assert.True(allocated < 64 * 1024, $"{name}: {allocated:N0} managed bytes allocated before rejecting");
        // Probe agrees on header-level verdicts.
        if (code != RejectionCodes.Corrupt)
            Assert.Equal(code, ImageDecoder.Probe(bytes, limits).Rejection?.Code);
    }

    [Fact]
    public void Misleading_name_is_irrelevant_png_bytes_decode_as_png()
    {
        // The API never sees a file name: a PNG uploaded as "selfie.jpg" is a PNG.
        var d = ImageDecoder.Decode(Png(), Small).GetValueOrThrow();
        Assert.Equal(ImageFormat.Png, d.Header.Format);
    }

    [Fact]
    public void Gif_takes_the_first_frame()
    {
        int w = 40, h = 30;
        var f0 = Enumerable.Repeat((byte)200, w * h).ToArray();
        var f1 = Enumerable.Repeat((byte)20, w * h).ToArray();
        var gif = Synth.Gif(w, h, f0, f1);
        var d = ImageDecoder.Decode(gif, Small).GetValueOrThrow();
        Assert.Equal(ImageFormat.Gif, d.Header.Format);
        Assert.Equal(2, d.Header.FrameCount);
        Assert.All(d.Image.Pixels, p => Assert.Equal(200, p));
    }

    [Fact]
    public void Limits_are_configurable()
    {
        var png = Png();
        Assert.Equal(RejectionCodes.DimensionsTooLarge, ImageDecoder.Probe(png, Small with { MaxPixels = 320 * 240 - 1 }).Rejection?.Code);
        Assert.Equal(RejectionCodes.DimensionsTooLarge, ImageDecoder.Probe(png, Small with { MaxSide = 319 }).Rejection?.Code);
        Assert.Equal(RejectionCodes.TooLarge, ImageDecoder.Probe(png, Small with { MaxBytes = png.Length - 1 }).Rejection?.Code);
        Assert.True(ImageDecoder.Probe(png, Small with { MaxPixels = 320 * 240, MaxSide = 320, MaxBytes = png.Length }).IsSuccess);
    }

    private static byte[] Trunc(byte[] b, double frac) => b[..(int)(b.Length * frac)];

    private static byte[] Flip(byte[] b, int at, int count)
    {
        var c = (byte[])b.Clone();
        for (int i = at; i < at + count && i < c.Length; i++) c[i] ^= 0x5A;
        return c;
    }

    private static byte[] Random(int n)
    {
        var b = new byte[n];
        new Random(42).NextBytes(b);
        return b;
    }
}
