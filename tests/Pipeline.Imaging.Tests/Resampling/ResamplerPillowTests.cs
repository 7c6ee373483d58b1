using Pipeline.Imaging.Labels;

namespace Pipeline.Imaging.Tests.Resampling;

/// <summary>
/// Pins the one Pillow resampler (<see cref="Resampler"/>, <see cref="TorchvisionTransforms"/>) to the bytes of the engine
/// copies it replaced (Council's PilResize for BILINEAR and torchvision's Resize + CenterCrop, pix2pixHD's Resampling for
/// BICUBIC and NEAREST), which were checked bit-exact against Pillow by the Council and pix2pixHD parity fixtures; those
/// fixture tests (Pipeline.Engine.Tests) now run against this implementation too. Runs without fixtures.
/// </summary>
public sealed class ResamplerPillowTests
{
    private static RgbImage Source()
    {
        const int w = 5, h = 4;
        var px = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) px[(y * w + x) * 3 + c] = (byte)((x * 37 + y * 91 + c * 53 + x * y * 29) % 256);
        return new RgbImage(w, h, px);
    }

    [Fact]
    public void BilinearMatchesPillow()
    {
        Assert.Equal([74, 127, 112, 119, 103, 132, 104, 141, 194, 95, 148, 123, 102, 110, 155, 86, 92, 145],
            Resampler.Resize(Source(), 3, 2, ResampleFilter.Bilinear).Pixels);
        byte[] up =
        [
            0, 53, 106, 21, 74, 127, 48, 101, 154, 74, 127, 180, 100, 153, 206, 127, 180, 233, 148, 201, 254, 46, 99, 152, 75, 128, 108,
            112, 129, 90, 149, 74, 127, 94, 110, 163, 94, 147, 200, 124, 177, 230, 106, 159, 169, 122, 175, 88, 155, 147, 47, 205, 45, 98,
            103, 65, 118, 75, 103, 156, 91, 144, 197, 167, 220, 60, 97, 150, 86, 69, 110, 133, 134, 144, 197, 168, 56, 109, 128, 60, 113,
            58, 111, 164, 100, 153, 78, 89, 142, 140, 76, 129, 182, 63, 116, 169, 141, 103, 156, 109, 89, 142, 26, 79, 132, 17, 70, 123,
            88, 141, 194, 103, 156, 209, 9, 62, 115, 98, 151, 204, 76, 129, 182, 1, 54, 107,
        ];
        Assert.Equal(up, Resampler.Resize(Source(), 7, 6, ResampleFilter.Bilinear).Pixels);
        Assert.Equal([112, 129, 90, 149, 74, 127, 94, 110, 163, 155, 147, 47, 205, 45, 98, 103, 65, 118, 69, 110, 133, 134, 144, 197, 168, 56, 109, 76, 129, 182, 63, 116, 169, 141, 103, 156],
            Resampler.ResizeWindow(Source(), 7, 6, 2, 1, 3, 4, ResampleFilter.Bilinear).Pixels);
    }

    [Fact]
    public void TorchvisionResizeAndCenterCropMatchesPillow() =>
        Assert.Equal([37, 90, 143, 74, 127, 180, 111, 164, 217, 157, 210, 7, 223, 20, 73, 33, 86, 139, 21, 74, 127, 116, 169, 222, 211, 8, 61],
            TorchvisionTransforms.ResizeAndCenterCrop(Source(), 4, 3, 3).Pixels);

    [Fact]
    public void BicubicMatchesPillow()
    {
        Assert.Equal([72, 126, 109, 123, 100, 125, 106, 145, 202, 96, 152, 123, 104, 110, 160, 85, 86, 140],
            Resampler.Resize(Source(), 3, 2, ResampleFilter.Bicubic).Pixels);
        byte[] up =
        [
            0, 45, 97, 11, 63, 126, 39, 97, 164, 64, 134, 187, 102, 159, 212, 135, 187, 240, 153, 206, 255, 35, 87, 164, 70, 132, 107,
            121, 137, 76, 150, 68, 121, 81, 110, 167, 86, 158, 211, 132, 184, 236, 107, 160, 191, 125, 194, 82, 171, 161, 16, 220, 33, 86,
            91, 51, 111, 57, 105, 158, 93, 148, 201, 190, 243, 44, 91, 147, 72, 44, 96, 138, 137, 156, 209, 193, 37, 91, 137, 42, 95,
            50, 118, 171, 101, 154, 63, 89, 141, 143, 65, 126, 202, 53, 121, 174, 161, 105, 158, 118, 86, 139, 16, 73, 126, 0, 51, 122,
            96, 149, 209, 120, 172, 224, 2, 55, 108, 103, 170, 223, 79, 142, 195, 0, 42, 95,
        ];
        Assert.Equal(up, Resampler.Resize(Source(), 7, 6, ResampleFilter.Bicubic).Pixels);
    }

    [Fact]
    public void NearestUsesPillowsAccumulatedCoordinate()
    {
        Assert.Equal([0, 2, 4], Resampler.NearestIndices(5, 3));
        Assert.Equal([0, 0, 1, 1, 2, 3, 3], Resampler.NearestIndices(4, 7));
        Assert.Equal([1, 3, 5], Resampler.NearestIndices(7, 3));
        var ids = new IdMap(5, 4, Enumerable.Range(0, 20).ToArray());
        Assert.Equal([5, 7, 9, 15, 17, 19], Resampler.Nearest(ids, 3, 2).Ids);
    }
}
