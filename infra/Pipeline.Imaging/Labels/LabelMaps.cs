namespace Pipeline.Imaging.Labels;

/// <summary>Why a label or instance map was refused; stable names for stored rejection reasons.</summary>
public enum LabelMapRejection
{
    NotPng,
    Malformed,
    NotSingleChannel,
    UnsupportedBitDepth,
    TooLarge,
    IdOutOfRange,
    SizeMismatch,
}

/// <summary>A label or instance map that cannot be used, with a typed <see cref="Reason"/> and a message for the uploader.</summary>
public sealed class InvalidLabelMapException(LabelMapRejection reason, string message) : ArgumentException(message)
{
    public LabelMapRejection Reason { get; } = reason;
}

/// <summary>What validation learned about an accepted map.</summary>
public sealed record LabelMapInfo(int Width, int Height, int BitDepth, int MaxId, int DistinctIds);

/// <summary>
/// Validation of uploaded maps, on bytes (no Skia, no torch), used by upload validation (<c>labels/</c> uploads) and the worker:
/// a label map is a single-channel 8-bit (grayscale or palette-index) PNG whose values are below the model's label count;
/// an instance map is a single-channel PNG (8 or 16 bit) of the label map's size.
/// </summary>
public static class LabelMaps
{
    /// <summary>Decodes and validates a label map; throws <see cref="InvalidLabelMapException"/> with the reason otherwise.</summary>
    public static (IdMap Map, LabelMapInfo Info) ReadLabels(byte[] png, int labelCount, long maxPixels = PngSamples.MaxPixels)
    {
        if (labelCount <= 0) throw new ArgumentOutOfRangeException(nameof(labelCount), "the model's label count must be positive");
        var img = DecodeSingleChannel(png, "label map", maxPixels);
        if (img.BitDepth > 8)
            throw new InvalidLabelMapException(LabelMapRejection.UnsupportedBitDepth,
                $"label map is a {img.BitDepth}-bit PNG; class ids must be stored as an 8-bit grayscale or palette PNG (the reference reads modes L/P)");
        var values = img.Planes[0];
        int max = 0;
        var seen = new bool[256];
        foreach (var v in values)
        {
            if (v > max) max = v;
            seen[v] = true;
        }
        if (max >= labelCount)
        {
            int bad = values.Count(v => v >= labelCount);
            throw new InvalidLabelMapException(LabelMapRejection.IdOutOfRange,
                $"label map has {bad} pixel(s) with class ids up to {max}, but the model knows only ids 0..{labelCount - 1}");
        }
        return (new IdMap(img.Width, img.Height, img.Planes[0]), new LabelMapInfo(img.Width, img.Height, img.BitDepth, max, seen.Count(s => s)));
    }

    /// <summary>Decodes and validates an instance map, which must match the label map's size when one is given.</summary>
    public static IdMap ReadInstances(byte[] png, LabelMapInfo? labels = null, long maxPixels = PngSamples.MaxPixels)
    {
        var img = DecodeSingleChannel(png, "instance map", maxPixels);
        if (labels is not null && (img.Width != labels.Width || img.Height != labels.Height))
            throw new InvalidLabelMapException(LabelMapRejection.SizeMismatch,
                $"instance map is {img.Width}x{img.Height} but the label map is {labels.Width}x{labels.Height}");
        return new IdMap(img.Width, img.Height, img.Planes[0]);
    }

    private static PngImage DecodeSingleChannel(byte[] png, string what, long maxPixels)
    {
        if (!PngSamples.HasSignature(png))
            throw new InvalidLabelMapException(LabelMapRejection.NotPng, $"{what} is not a PNG file; upload the map as a single-channel PNG");
        var size = PngSamples.ReadSize(png);
        if ((long)size.Width * size.Height > maxPixels)
            throw new InvalidLabelMapException(LabelMapRejection.TooLarge, $"{what} is {size.Width}x{size.Height}, above the limit of {maxPixels} pixels");
        var img = PngSamples.Decode(png);
        if (!img.IsSingleChannel)
            throw new InvalidLabelMapException(LabelMapRejection.NotSingleChannel,
                $"{what} is a {img.Color} PNG; it must be single-channel (grayscale or palette indices), one class id per pixel");
        return img;
    }
}
