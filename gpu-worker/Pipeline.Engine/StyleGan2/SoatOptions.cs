namespace Pipeline.Engine.StyleGan2;

/// <summary>Direction of <see cref="Soat.Blend"/>: the ramp runs down the rows (vertical) or across the columns (horizontal).</summary>
public enum BlendDirection { Vertical, Horizontal }

/// <summary>A box in SOAT's 256-pixel coordinate frame (x, y = top-left column/row; w, h = size).</summary>
public readonly record struct Box256(int X, int Y, int W, int H)
{
    /// <summary>
    /// util.prepare_bbox: a normalised [ymin, xmin, ymax, xmax] box -> uint8(256 * [xmin, ymin, xmax-xmin, ymax-ymin])
    /// (truncation, uint8 wrap-around included).
    /// </summary>
    public static Box256 FromNormalized(double ymin, double xmin, double ymax, double xmax)
    {
        static int U8(double v) => (int)(byte)(long)Math.Truncate(v);
        return new(U8(256 * xmin), U8(256 * ymin), U8(256 * (xmax - xmin)), U8(256 * (ymax - ymin)));
    }
}

/// <summary>blend_bbox: transfer latent2's content inside a blurred box into latent1's image.</summary>
/// <param name="Box">Box in 256-px units (SOAT hard-codes a 256x256 mask regardless of model size).</param>
/// <param name="PoseAlign">model_type == "face": keep latent1's to_rgb1 and style entries 2, 3 (conv1 is still blended, as in SOAT).</param>
/// <param name="NumBlend">Style entries above this index (from 2 on) are not blended.</param>
public sealed record BlendBoxOptions(Box256 Box, bool PoseAlign = false, int NumBlend = 99);

/// <summary>patch_swap: copy (and optionally swap) a feature rectangle at the 16x16 block.</summary>
/// <param name="Target">Rectangle of image 1 (256-px units).</param>
/// <param name="Source">Rectangle of image 2 (256-px units).</param>
public sealed record PatchSwapOptions(Box256 Target, Box256 Source, bool Swap = true);

/// <summary>Layer-wise interpolation between two generators (infinity.ipynb "Toonify input face").</summary>
/// <param name="NumSwap">Style entries below this index use <paramref name="EarlyAlpha"/>, the rest <paramref name="Alpha"/>.</param>
public sealed record ToonifyOptions(int NumSwap = 6, double Alpha = 0.7, double EarlyAlpha = 0.0);

/// <summary>Panorama of several images joined by merge_extension (infinity.ipynb "Panorama Generation").</summary>
/// <param name="Sigma">Periodic Gaussian smoothing of the z's across images (0 disables it).</param>
public sealed record PanoramaOptions(int NumImages = 5, double Truncation = 0.7, double Sigma = 0.7);

/// <summary>How <see cref="Soat.SinGan"/> widens the 8x8 features: nearest-neighbour stretch or padding of W/2 columns per side.</summary>
public enum SinGanMode { Horizontal, Vertical, Reflect, Replicate, Circular }
