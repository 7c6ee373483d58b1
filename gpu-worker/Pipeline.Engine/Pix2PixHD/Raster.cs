namespace Pipeline.Engine.Pix2PixHD;

// Torch-free, like Png.cs and LabelMaps.cs: the three files compile on their own for hosts without TorchSharp.

/// <summary>A decoded raster in planar layout: <c>Planes[c][y*Width+x]</c>.</summary>
public sealed record Raster<T>(int Width, int Height, T[][] Planes)
{
    public int Channels => Planes.Length;
}
