using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>
/// The synthesis network (`generator.*` keys): one StyledConvBlock and one 1x1 to_rgb per level. All levels exist
/// whatever resolution a checkpoint was trained to; `step` picks the output level. Output is neither clamped nor tanh'ed.
/// </summary>
public sealed class Generator : nn.Module
{
    private readonly ModuleList<StyledConvBlock> progression;
    private readonly ModuleList<EqualConv2d> to_rgb;

    public StyleGan1GeneratorConfig Config { get; }

    public Generator(StyleGan1GeneratorConfig config) : base(nameof(Generator))
    {
        Config = config;
        var ch = config.Channels;
        progression = new ModuleList<StyledConvBlock>();
        to_rgb = new ModuleList<EqualConv2d>();
        for (int i = 0; i < ch.Count; i++)
        {
            var kind = i == 0 ? StyledBlockKind.Initial
                : config.FusedLevels.Contains(i) ? StyledBlockKind.FusedUpsample : StyledBlockKind.Upsample;
            progression.Add(new StyledConvBlock(i == 0 ? ch[0] : ch[i - 1], ch[i], config.CodeDim, kind));
            to_rgb.Add(new EqualConv2d(ch[i], 3, 1, 0));
        }
        RegisterComponents();
    }

    /// <summary>
    /// Runs levels 0..step with one W per level (<paramref name="levelStyles"/>[i] is [B, D] or [1, D]).
    /// noise[i] is [B|1, 1, 4*2^i, 4*2^i]; the constant takes its batch size from noise[0] (reference quirk).
    /// Fade-in only when 0 &lt;= alpha &lt; 1 and step &gt; 0: blends the nearest-upsampled to_rgb of the previous level.
    /// <paramref name="tap"/> sees every intermediate ("progression.i", "progression.i.conv1", "to_rgb.i", ...).
    /// </summary>
    public Tensor ForwardLevels(IReadOnlyList<Tensor> levelStyles, IReadOnlyList<Tensor> noise, int step, double alpha = -1,
        Action<string, Tensor>? tap = null)
    {
        ValidateStep(step);
        if (levelStyles.Count < step + 1) throw new ArgumentException($"need {step + 1} level styles, got {levelStyles.Count}", nameof(levelStyles));
        if (noise.Count < step + 1) throw new ArgumentException($"step {step} needs {step + 1} noise maps (levels 0..{step}), got {noise.Count}", nameof(noise));
        var h = noise[0];
        Tensor? prev = null;
        for (int i = 0; i <= step; i++)
        {
            if (i > 0) prev = h;
            var level = i;
            h = progression[i].Forward(h, levelStyles[i], noise[i], tap is null ? null : (n, t) => tap($"progression.{level}.{n}", t));
            tap?.Invoke($"progression.{i}", h);
        }
        var rgb = to_rgb[step].forward(h);
        tap?.Invoke($"to_rgb.{step}", rgb);
        if (step > 0 && alpha >= 0 && alpha < 1)
        {
            var skipRgb = to_rgb[step - 1].forward(prev!);
            tap?.Invoke($"to_rgb.{step - 1}", skipRgb);
            rgb = (1 - alpha) * Upsample2x.Up2(skipRgb) + alpha * rgb;
        }
        return rgb;
    }

    /// <summary>The reference's `generator(styles, noise, step, alpha, mixing_range)` with an explicit crossover.</summary>
    public Tensor Forward(IReadOnlyList<Tensor> styles, IReadOnlyList<Tensor> noise, int step, double alpha = -1,
        MixingRange? mixingRange = null, IReadOnlyList<int>? injectIndex = null, Random? random = null, Action<string, Tensor>? tap = null)
    {
        var schedule = StyleSchedule.Resolve(styles.Count, step, mixingRange, injectIndex, random);
        return ForwardLevels(schedule.Select(k => styles[k]).ToArray(), noise, step, alpha, tap);
    }

    internal void ValidateStep(int step)
    {
        if (step < 0 || step > Config.MaxStep)
            throw new ArgumentOutOfRangeException(nameof(step), step, $"step must be 0..{Config.MaxStep} (resolution 4..{4 << Config.MaxStep} px)");
    }
}
