using Pipeline.Imaging;
using Pipeline.Imaging.Labels;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Uploads;
using Pipeline.Tests;

namespace Pipeline.Infra.Tests.Uploads;

/// <summary>
/// labels/ uploads are checked as label maps (Pipeline.Imaging.Labels, torch-free, as the worker reads them), with a
/// code and a stored reason when they cannot be used, and not with the photo rules (no 128 px minimum, no face).
/// </summary>
public sealed class LabelUploadValidationTests
{
    private static byte[] GrayMap(int w, int h, Func<int, int, int> id, int depth = 8) =>
        TestPng.Write(w, h, depth, (int)PngColor.Gray, (x, y) => [id(x, y)]);

    private static UploadVerdict Validate(string name, byte[] content, UploadValidationOptions? options = null, Dictionary<string, string>? metadata = null) =>
        new UploadValidator(options).Validate(new UploadCandidate(name, "\"e1\"", content, metadata));

    [Fact]
    public void ASmallSingleChannelMapBecomesOneLabelJob()
    {
        var verdict = Validate("labels/scene.png", GrayMap(64, 48, (x, y) => (x + y) % 6), new UploadValidationOptions { LabelClasses = 6 });
        Assert.True(verdict.Accepted, verdict.Message);
        Assert.Equal((64, 48, "png"), (verdict.Image!.Width, verdict.Image.Height, verdict.Image.Format));
        var job = Assert.IsType<TranslationJob>(Assert.Single(verdict.Jobs).Job);
        Assert.Equal(TranslationVariant.Pix2PixHdLabelToImage, job.Variant);
        // Palette indices are class ids too.
        Assert.True(Validate("labels/palette.png", TestPng.Write(70, 70, 4, (int)PngColor.Palette, (x, y) => [x % 3])).Accepted);
    }

    public static TheoryData<string, string, string, string> BadMaps() => new()
    {
        { "rgb", "labels/colour.png", UploadCodes.LabelMapNotSingleChannel, nameof(RejectionReason.BadRequest) },
        { "jpeg", "labels/photo.jpg", UploadCodes.LabelMapNotPng, nameof(RejectionReason.UnsupportedFormat) },
        { "16-bit", "labels/deep.png", UploadCodes.LabelMapBitDepth, nameof(RejectionReason.BadRequest) },
        { "ids-beyond-label-nc", "labels/unknown-classes.png", UploadCodes.LabelMapIdOutOfRange, nameof(RejectionReason.BadRequest) },
        { "too-wide", "labels/wide.png", UploadCodes.LabelMapTooLarge, nameof(RejectionReason.BadDimensions) },
        { "truncated", "labels/cut.png", UploadCodes.LabelMapMalformed, nameof(RejectionReason.NotAnImage) },
        { "metadata-job", "maps/colour.png", UploadCodes.LabelMapNotSingleChannel, nameof(RejectionReason.BadRequest) },
    };

    [Theory, MemberData(nameof(BadMaps))]
    public void UnusableMapsAreRejectedWithACodeAndAStoredReason(string kind, string name, string code, string reason)
    {
        var options = new UploadValidationOptions { LabelClasses = 6, MaxSide = 300 };
        var content = kind switch
        {
            "rgb" or "metadata-job" => TestPng.Write(64, 64, 8, (int)PngColor.Rgb, (x, y) => [x, y, 0]),
            "jpeg" => new RgbImage(64, 64).EncodeJpeg(),
            "16-bit" => GrayMap(64, 64, (x, _) => x, depth: 16),
            "ids-beyond-label-nc" => GrayMap(64, 64, (x, y) => x == 63 && y == 63 ? 6 : 1),
            "too-wide" => GrayMap(301, 8, (_, _) => 0),
            "truncated" => GrayMap(64, 64, (x, _) => x % 6)[..60],
            _ => throw new ArgumentException(kind),
        };
        var metadata = kind == "metadata-job" ? new Dictionary<string, string> { ["job"] = "labels" } : null;
        var verdict = Validate(name, content, options, metadata);
        Assert.False(verdict.Accepted);
        Assert.Equal(code, verdict.Code);
        Assert.Empty(verdict.Jobs);
        Assert.Contains("label map", verdict.Message, StringComparison.Ordinal);
        var stored = verdict.ToRejection(new BlobRef(BlobLayout.Upload(name), "\"e1\""), DateTimeOffset.UnixEpoch);
        Assert.Equal(reason, stored.Reason.ToString());
        Assert.Equal(code, stored.Details!["code"]);
    }

    [Fact]
    public void WithoutAKnownLabelCountOnlyTheEightBitRangeIsChecked()
    {
        Assert.True(Validate("labels/many.png", GrayMap(16, 16, (x, y) => (x * 16 + y) % 256)).Accepted);
        var limited = Validate("labels/many.png", GrayMap(16, 16, (x, y) => (x * 16 + y) % 256), new UploadValidationOptions { LabelClasses = 35 });
        Assert.Equal(UploadCodes.LabelMapIdOutOfRange, limited.Code);
        Assert.Contains("0..34", limited.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PhotosStillGetThePhotoRules()
    {
        // A small PNG uploaded as a selfie is judged as a photo (too small), not as a map.
        var verdict = Validate("selfies/map.png", new RgbImage(64, 64).EncodePng());
        Assert.Equal(RejectionCodes.TooSmall, verdict.Code);
    }
}
