namespace Pipeline.Imaging.Labels;

/// <summary>
/// A single-channel map of integer ids in row-major order (<c>Ids[y*Width+x]</c>): pix2pixHD's class ids (label maps)
/// and instance ids. Ids are numbers, not intensities: they are only ever resized with NEAREST
/// (<see cref="Resampler.Nearest(IdMap, int, int)"/>); photos are <see cref="RgbImage"/>.
/// </summary>
public sealed class IdMap
{
    public int Width { get; }
    public int Height { get; }
    public int[] Ids { get; }

    public IdMap(int width, int height, int[]? ids = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        long n = (long)width * height;
        if (n > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(width), $"{width}x{height} ids do not fit one array.");
        ids ??= new int[n];
        if (ids.Length != n) throw new ArgumentException($"Expected {n} ids for {width}x{height}, got {ids.Length}.", nameof(ids));
        Width = width;
        Height = height;
        Ids = ids;
    }

    public int this[int x, int y] => Ids[y * Width + x];

    public IdMap Clone() => new(Width, Height, (int[])Ids.Clone());
}
