using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>
/// The `ops` case: unit layers built with the constructor arguments of the fixture text, sizes read from the
/// stored parameter shapes, parameters loaded strictly from param.&lt;module&gt;.*.
/// </summary>
internal static class OpsParity
{
    public static void Run(Sg2Case c)
    {
        var x8 = c.In("x8");
        var style = c.In("style");
        var v16 = c.In("v16");
        long styleDim = style.shape[1];

        c.Check("pixelnorm", new PixelNorm().forward(v16));
        c.Check("upsample", Load(c, "upsample", new Upsample(Ops.DefaultBlur)).forward(x8));
        c.Check("downsample", Load(c, "downsample", new Downsample(Ops.DefaultBlur)).forward(x8));
        c.Check("blur_up", Load(c, "blur_up", new Blur(Ops.DefaultBlur, (1, 1), upsampleFactor: 2)).forward(c.In("x17")));
        c.Check("blur_down_k3", Load(c, "blur_down_k3", new Blur(Ops.DefaultBlur, (2, 2))).forward(x8));
        c.Check("blur_down_k1", Load(c, "blur_down_k1", new Blur(Ops.DefaultBlur, (1, 1))).forward(x8));

        var odd = c.In("x8_odd");
        c.Check("upfirdn2d_a", Ops.Upfirdn2d(odd, c.In("kernel_a"), up: 2, down: 1, pad: (2, 1)));
        c.Check("upfirdn2d_b", Ops.Upfirdn2d(odd, c.In("kernel_b"), 1, 1, 2, 2, padX0: 1, padX1: 2, padY0: 0, padY1: 1));
        c.Check("upfirdn2d_c", Ops.Upfirdn2d(odd, c.In("kernel_b"), up: 2, down: 2, pad: (-1, 2)));

        var bias = c.Io["param.flrelu.bias"];
        c.Check("flrelu_4d", Load(c, "flrelu", new FusedLeakyReLU(bias.shape[0])).forward(x8));
        c.Check("flrelu_2d_bias", Ops.FusedLeakyRelu(v16.narrow(1, 0, bias.shape[0]), bias));
        c.Check("flrelu_nobias", Ops.FusedLeakyRelu(x8, null));

        var (lo, li) = Shape2(c, "equal_linear_lrmul.weight");
        c.Check("equal_linear_lrmul", Load(c, "equal_linear_lrmul", new EqualLinear(li, lo, lrMul: 0.01, fusedLrelu: true)).forward(v16));
        (lo, li) = Shape2(c, "equal_linear_plain.weight");
        c.Check("equal_linear_plain", Load(c, "equal_linear_plain", new EqualLinear(li, lo, biasInit: 1)).forward(v16));

        var w = c.Io["param.equal_conv.weight"];
        c.Check("equal_conv", Load(c, "equal_conv", new EqualConv2d(w.shape[1], w.shape[0], w.shape[2], padding: w.shape[2] / 2)).forward(x8));
        w = c.Io["param.equal_conv_s2.weight"];
        c.Check("equal_conv_s2", Load(c, "equal_conv_s2", new EqualConv2d(w.shape[1], w.shape[0], w.shape[2], stride: 2, padding: w.shape[2] / 2, bias: false)).forward(x8));

        foreach (var (name, up, down, demod) in new[] { ("modconv", false, false, true), ("modconv_up", true, false, true), ("modconv_down", false, true, true), ("modconv_nodemod_k1", false, false, false) })
        {
            w = c.Io[$"param.{name}.weight"];
            var m = Load(c, name, new ModulatedConv2d(w.shape[2], w.shape[1], w.shape[3], styleDim, demodulate: demod, upsample: up, downsample: down));
            var fused = m.forward(x8, style);
            c.Check(name, fused);
            // The shared-kernel (non-fused) path must give the same values; checked against the same expectation.
            m.Fused = false;
            c.Check(name, m.forward(x8, style));
        }

        w = c.Io["param.styled_conv_up.conv.weight"];
        var sc = Load(c, "styled_conv_up", new StyledConv(w.shape[2], w.shape[1], w.shape[3], styleDim, upsample: true));
        c.Check("styled_conv_up", sc.forward(x8, style, c.In("noise16")));

        w = c.Io["param.to_rgb.conv.weight"];
        var rgb = Load(c, "to_rgb", new ToRGB(w.shape[2], styleDim));
        c.Check("to_rgb", rgb.forward(c.In("x16c6"), style, c.In("skip8")));
        c.Check("to_rgb_noskip", rgb.forward(c.In("x16c6"), style, null));

        w = c.Io["param.conv_layer_down.1.weight"];
        c.Check("conv_layer_down", Load(c, "conv_layer_down", ConvLayer.Create(w.shape[1], w.shape[0], w.shape[2], downsample: true)).forward(x8));
        w = c.Io["param.res_block.conv2.1.weight"];
        c.Check("res_block", Load(c, "res_block", new ResBlock(w.shape[1], w.shape[0])).forward(x8));
    }

    private static (long Out, long In) Shape2(Sg2Case c, string key) => (c.Io["param." + key].shape[0], c.Io["param." + key].shape[1]);

    private static T Load<T>(Sg2Case c, string module, T m) where T : nn.Module
    {
        StateDicts.Load(m, StateDicts.WithPrefix(c.Io, $"param.{module}."), strict: true, what: module);
        return m;
    }
}
