using Pipeline.Imaging.Labels;
using Pipeline.Tests;

namespace Pipeline.Imaging.Tests.Labels;

/// <summary>Label/instance map validation on PNG bytes written by <see cref="TestPng"/> with every filter type the decoder must undo.</summary>
public sealed class LabelMapsTests
{
    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)1)]
    [InlineData((byte)2)]
    [InlineData((byte)3)]
    [InlineData((byte)4)]
    public void AcceptsGrayLabelMapAndKeepsIds(byte filter)
    {
        var png = TestPng.Write(7, 5, 8, (int)PngColor.Gray, (x, y) => [(x * 3 + y) % 9], filter);
        var (map, info) = LabelMaps.ReadLabels(png, labelCount: 9);
        Assert.Equal((7, 5, 8), (info.Width, info.Height, info.MaxId));
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 7; x++) Assert.Equal((x * 3 + y) % 9, map.Ids[y * 7 + x]);
    }

    [Fact]
    public void AcceptsPaletteIndicesBelowEightBits()
    {
        var png = TestPng.Write(9, 3, 4, (int)PngColor.Palette, (x, y) => [(x + y) % 16], filter: 4);
        var (map, info) = LabelMaps.ReadLabels(png, labelCount: 16);
        Assert.Equal(10, map.Ids[2 * 9 + 8]);
        Assert.Equal(10, info.MaxId);
    }

    [Fact]
    public void RejectsIdsAtOrAboveLabelCount()
    {
        var png = TestPng.Write(4, 4, 8, (int)PngColor.Gray, (x, y) => [x == 3 && y == 3 ? 35 : 1]);
        var e = Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels(png, labelCount: 35));
        Assert.Equal(LabelMapRejection.IdOutOfRange, e.Reason);
        Assert.Contains("35", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsColourMaps()
    {
        var png = TestPng.Write(4, 4, 8, (int)PngColor.Rgb, (x, y) => [1, 2, 3]);
        Assert.Equal(LabelMapRejection.NotSingleChannel, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels(png, 35)).Reason);
    }

    [Fact]
    public void RejectsSixteenBitLabelMapsButKeepsSixteenBitInstanceIds()
    {
        var png = TestPng.Write(3, 2, 16, (int)PngColor.Gray, (x, y) => [26000 + x + 7 * y + 7001]);
        Assert.Equal(LabelMapRejection.UnsupportedBitDepth, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels(png, 35)).Reason);
        var inst = LabelMaps.ReadInstances(png);
        Assert.Equal(26000 + 2 + 7 + 7001, inst.Ids[5]);
    }

    [Fact]
    public void RejectsNonPngAndMismatchedInstanceMaps()
    {
        Assert.Equal(LabelMapRejection.NotPng, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels("GIF89a........"u8.ToArray(), 35)).Reason);
        var (_, info) = LabelMaps.ReadLabels(TestPng.Write(4, 4, 8, (int)PngColor.Gray, (_, _) => [0]), 35);
        var inst = TestPng.Write(5, 4, 16, (int)PngColor.Gray, (_, _) => [0]);
        Assert.Equal(LabelMapRejection.SizeMismatch, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadInstances(inst, info)).Reason);
    }

    [Fact]
    public void RejectsMapsAboveThePixelLimitBeforeDecoding()
    {
        var png = TestPng.Write(64, 64, 8, (int)PngColor.Gray, (_, _) => [0]);
        Assert.Equal(LabelMapRejection.TooLarge, Assert.Throws<InvalidLabelMapException>(() => LabelMaps.ReadLabels(png, 35, maxPixels: 1000)).Reason);
    }
}
