using System.Globalization;
using System.Text;
using Pipeline.Engine.Council;
using Pipeline.Engine.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Pipeline.Engine.Training.Council;

/// <summary>Building, initialising, saving and resuming the members of a b2a council (Council-GAN train.py / trainer.save).</summary>
public static class CouncilTrainingSetup
{
    /// <summary>Fresh members with the reference initialisation (spec 7.7): generators kaiming_normal fan_in, discriminators N(0, 0.02), biases 0.</summary>
    public static CouncilMember[] NewMembers(CouncilConfig config, long seed, Device? device = null)
    {
        manual_seed(seed);
        var members = new CouncilMember[config.Council.CouncilSize];
        for (int i = 0; i < members.Length; i++)
        {
            var gen = new CouncilGenerator(config.Gen);
            var dis = new MsImageDis(config.Dis);
            var disCouncil = new MsImageDisCouncil(config.Dis, config.Gen.InputDim);
            Init(gen, kaiming: true);
            Init(dis, kaiming: false);
            Init(disCouncil, kaiming: false);
            members[i] = To(new CouncilMember(gen, dis, disCouncil), device);
        }
        return members;
    }

    private static CouncilMember To(CouncilMember m, Device? device) =>
        device is null ? m : new CouncilMember(m.Gen.to(device), m.Dis.to(device), m.DisCouncil.to(device));

    private static void Init(nn.Module root, bool kaiming)
    {
        using var _ = no_grad();
        foreach (var m in root.modules())
        {
            (Tensor? w, Tensor? b) = m switch
            {
                Conv2d c => (c.weight, c.bias),
                Linear l => (l.weight, l.bias),
                _ => (null, null),
            };
            if (w is null) continue;
            if (kaiming) nn.init.kaiming_normal_(w, a: 0, mode: nn.init.FanInOut.FanIn);
            else nn.init.normal_(w, 0, 0.02);
            if (b is not null) nn.init.zeros_(b);
        }
    }

    public static string Step8(long step) => step.ToString("D8", CultureInfo.InvariantCulture);

    /// <summary>
    /// trainer.save: per member <c>b2a_gen_i_STEP.pt</c>, <c>b2a_dis_i_STEP.pt</c>, <c>b2a_dis_council_i_STEP.pt</c>,
    /// each <c>{'b2a': state_dict}</c>, plus <c>config.yaml</c> (readable by CouncilConfig.Load / the reference).
    /// Returns the inference prefix <c>dir/STEP</c> that CouncilTranslator.Load takes.
    /// </summary>
    public static string Save(string dir, IReadOnlyList<CouncilMember> members, CouncilConfig config, long step)
    {
        Directory.CreateDirectory(dir);
        string d = config.Direction, s = Step8(step);
        static OrderedDictionary<string, object?> Wrap(string key, nn.Module m)
        {
            var sd = new OrderedDictionary<string, object?>();
            foreach (var (k, v) in m.state_dict()) sd[k] = v.detach().cpu();
            return new OrderedDictionary<string, object?> { [key] = sd };
        }
        for (int i = 0; i < members.Count; i++)
        {
            TorchFile.Save(Path.Combine(dir, $"{d}_gen_{i}_{s}.pt"), Wrap(d, members[i].Gen));
            TorchFile.Save(Path.Combine(dir, $"{d}_dis_{i}_{s}.pt"), Wrap(d, members[i].Dis));
            TorchFile.Save(Path.Combine(dir, $"{d}_dis_council_{i}_{s}.pt"), Wrap(d, members[i].DisCouncil));
        }
        File.WriteAllText(Path.Combine(dir, "config.yaml"), ToYaml(config));
        return Path.Combine(dir, s);
    }

    /// <summary>The latest step in <paramref name="dir"/> that has every member's gen, dis and dis_council file; null if none.</summary>
    public static long? LatestStep(string dir, CouncilConfig config)
    {
        if (!Directory.Exists(dir)) return null;
        var steps = Directory.EnumerateFiles(dir, $"{config.Direction}_gen_0_*.pt")
            .Select(f => Path.GetFileNameWithoutExtension(f)[^8..])
            .Where(x => x.All(char.IsAsciiDigit)).Select(long.Parse).OrderDescending();
        foreach (var st in steps)
        {
            var s = Step8(st);
            bool complete = Enumerable.Range(0, config.Council.CouncilSize).All(i =>
                File.Exists(Path.Combine(dir, $"{config.Direction}_gen_{i}_{s}.pt")) &&
                File.Exists(Path.Combine(dir, $"{config.Direction}_dis_{i}_{s}.pt")) &&
                File.Exists(Path.Combine(dir, $"{config.Direction}_dis_council_{i}_{s}.pt")));
            if (complete) return st;
        }
        return null;
    }

    /// <summary>Loads the members saved at <paramref name="step"/> (strict, shapes checked).</summary>
    public static CouncilMember[] Load(string dir, CouncilConfig config, long step, Device? device = null)
    {
        string d = config.Direction, s = Step8(step);
        var members = new CouncilMember[config.Council.CouncilSize];
        for (int i = 0; i < members.Length; i++)
        {
            var gen = new CouncilGenerator(config.Gen);
            var dis = new MsImageDis(config.Dis);
            var disCouncil = new MsImageDisCouncil(config.Dis, config.Gen.InputDim);
            foreach (var (m, kind) in new (nn.Module, string)[] { (gen, "gen"), (dis, "dis"), (disCouncil, "dis_council") })
            {
                var path = Path.Combine(dir, $"{d}_{kind}_{i}_{s}.pt");
                StateDicts.Load(m, CouncilCheckpoint.LoadStateDict(path, d), what: path);
            }
            members[i] = To(new CouncilMember(gen, dis, disCouncil), device);
        }
        return members;
    }

    /// <summary>A config.yaml with the reference's key names for everything the engine reads (inactive loss weights written as 0).</summary>
    public static string ToYaml(CouncilConfig c)
    {
        static string F(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string B(bool v) => v ? "true" : "false";
        var t = c.Train;
        var sb = new StringBuilder();
        sb.AppendLine("# Council-GAN config written by `pipeline train council` (reference key names).");
        sb.AppendLine(CultureInfo.InvariantCulture, $"batch_size: {t.BatchSize}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"weight_decay: {F(t.WeightDecay)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"beta1: {F(t.Beta1)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"beta2: {F(t.Beta2)}");
        sb.AppendLine("init: kaiming");
        sb.AppendLine(CultureInfo.InvariantCulture, $"lr: {F(t.Lr)}");
        sb.AppendLine("lr_policy: step");
        sb.AppendLine(CultureInfo.InvariantCulture, $"step_size: {t.StepSize}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"gamma: {F(t.Gamma)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"gan_w: {F(t.GanW)}");
        foreach (var k in CouncilConfig.InactiveWeightKeys) sb.AppendLine(CultureInfo.InvariantCulture, $"{k}: 0");
        sb.AppendLine(CultureInfo.InvariantCulture, $"council_w: {F(t.CouncilW)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"do_w_loss_matching: {B(t.DoWLossMatching)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"loss_matching_hist_size: {t.LossMatchingHistSize}");
        var g = c.Gen;
        sb.AppendLine("gen:");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  dim: {g.Dim}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  mlp_dim: {g.MlpDim}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  style_dim: {g.StyleDim}");
        sb.AppendLine("  do_my_style: false");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  activ: {g.Activ}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  n_downsample: {g.NDownsample}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  n_res: {g.NRes}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  pad_type: {g.PadType}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  num_of_mask_dim_to_add: {g.NumMasks}");
        var d = c.Dis;
        sb.AppendLine("dis:");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  dim: {d.Dim}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  norm: {d.Norm}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  activ: {d.Activ}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  n_layer: {d.NLayer}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  gan_type: {d.GanType}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  num_scales: {d.NumScales}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  pad_type: {d.PadType}");
        sb.AppendLine("  numberOf_dis_relative_iteration: 1");
        var k2 = c.Council;
        sb.AppendLine("council:");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  council_size: {k2.CouncilSize}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  numberOfCouncil_dis_relative_iteration: {k2.ComparisonsPerStep}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  flipOnOff: {B(k2.FlipOnOff)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  discriminetro_less_style_by: {F(k2.LessStyleBy)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"  council_start_at_iter: {k2.CouncilStartAtIter}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"do_a2b: {B(c.DoA2B)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"do_b2a: {B(c.DoB2A)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"input_dim_a: {(c.DoB2A ? d.InputDim : g.InputDim)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"input_dim_b: {(c.DoB2A ? g.InputDim : d.InputDim)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"new_size: {c.NewSize}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"crop_image_height: {c.CropHeight}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"crop_image_width: {c.CropWidth}");
        sb.AppendLine("do_HorizontalFlip: true");
        sb.AppendLine("do_RandomGrayscale: true");
        sb.AppendLine("RandomGrayscale_P: 0.05");
        return sb.ToString();
    }
}
