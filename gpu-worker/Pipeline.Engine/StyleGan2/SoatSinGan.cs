using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

public sealed partial class Soat
{
    /// <summary>
    /// singan: generation with fresh random noise where, after the first 8x8 block (style index 2), the features and the
    /// RGB skip are widened (stretched to 2W / 2H, or padded by W/2 columns per side) so the image grows beyond S x S.
    /// Random by design (as in SOAT), so not reproducible.
    /// </summary>
    public Tensor SinGan(IReadOnlyList<Tensor> styles, SinGanMode mode)
    {
        var x = G.Input.forward(styles[0].shape[0]);
        var o = G.Conv1.ForwardStyle(x, styles[0], null);
        var skip = G.ToRgb1.ForwardStyle(o, styles[1], null);
        for (int j = 0, i = 2; j < G.ToRgbs.Count; j++, i += 3)
        {
            o = G.Convs[2 * j].ForwardStyle(o, styles[i], null);
            o = G.Convs[2 * j + 1].ForwardStyle(o, styles[i + 1], null);
            skip = G.ToRgbs[j].ForwardStyle(o, styles[i + 2], skip);
            if (i == 2)
            {
                o = Widen(o, mode);
                skip = Widen(skip, mode);
            }
        }
        return skip.clamp(-1, 1);
    }

    private static Tensor Widen(Tensor t, SinGanMode mode)
    {
        long h = t.shape[2], w = t.shape[3];
        return mode switch
        {
            SinGanMode.Horizontal => nn.functional.interpolate(t, [h, 2 * w], mode: InterpolationMode.Nearest),
            SinGanMode.Vertical => nn.functional.interpolate(t, [2 * h, w], mode: InterpolationMode.Nearest),
            SinGanMode.Reflect => nn.functional.pad(t, [w / 2, w / 2, 0, 0], PaddingModes.Reflect),
            SinGanMode.Replicate => nn.functional.pad(t, [w / 2, w / 2, 0, 0], PaddingModes.Replicate),
            _ => nn.functional.pad(t, [w / 2, w / 2, 0, 0], PaddingModes.Circular),
        };
    }
}
