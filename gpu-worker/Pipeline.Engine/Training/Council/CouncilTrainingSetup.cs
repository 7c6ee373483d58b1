using System.Globalization;
using System.Text;
using Pipeline.Engine.Council;
using Pipeline.Engine.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Conv2d = Pipeline.Engine.Nn.Conv2d;
using Linear = Pipeline.Engine.Nn.Linear;

namespace Pipeline.Engine.Training.Council;

/// <summary>What <see cref="CouncilTrainingSetup.Restore"/> could bring back; <see cref="Notes"/> are for the console.</summary>
public sealed record CouncilResumeReport(long Step, bool AdamRestored, bool LossMatchingRestored, IReadOnlyList<string> Notes);

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
    /// Returns the inference prefix <c>dir/STEP</c> that CouncilTranslator.Load takes. Weights only; a training run
    /// saves with <see cref="Save(string, CouncilTrainer, CouncilConfig)"/>.
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

    /// <summary>The reference's per-member optimizer file (no step in the name, overwritten at every save).</summary>
    public static string OptimizerFile(string dir, int member) => Path.Combine(dir, $"optimizer_{member}.pt");

    /// <summary>Ours, not the reference's: the loss-matching histories, so a resume continues the weights w_i.</summary>
    public static string LossMatchingFile(string dir, int member) => Path.Combine(dir, $"loss_matching_{member}.pt");

    /// <summary>
    /// A training snapshot at <see cref="CouncilTrainer.Iteration"/>: the files of
    /// <see cref="Save(string, IReadOnlyList{CouncilMember}, CouncilConfig, long)"/> plus <c>optimizer_&lt;i&gt;.pt</c>
    /// (<see cref="CouncilTrainer.OptimizerStateDict"/>) and <c>loss_matching_&lt;i&gt;.pt</c>. The step-less files
    /// go first, each replaced atomically: after a crash part-way the new step's weights are incomplete, so a resume
    /// takes the previous step, and the newer optimizer states give themselves away by Adam step counts above that
    /// step (<see cref="Restore"/> then restarts Adam instead of pairing weights with moments of another iteration).
    /// </summary>
    public static string Save(string dir, CouncilTrainer trainer, CouncilConfig config)
    {
        Directory.CreateDirectory(dir);
        for (int i = 0; i < trainer.Members.Count; i++)
        {
            SaveAtomically(OptimizerFile(dir, i), trainer.OptimizerStateDict(i));
            var (adv, council) = trainer.LossMatchingHistory(i);
            SaveAtomically(LossMatchingFile(dir, i), new OrderedDictionary<string, object?>
            {
                ["iteration"] = (long)trainer.Iteration,
                ["adv"] = tensor(adv, float64),
                ["council"] = tensor(council, float64),
            });
        }
        return Save(dir, trainer.Members, config, trainer.Iteration);
    }

    private static void SaveAtomically(string path, object tree)
    {
        var tmp = path + ".tmp";
        TorchFile.Save(tmp, tree);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>
    /// Resumes <paramref name="trainer"/> (built on the members <see cref="Load"/> returned for <paramref name="step"/>):
    /// iteration, Adam states and learning rates from <c>optimizer_&lt;i&gt;.pt</c> (the reference's resume), StepLR at
    /// <paramref name="step"/>, loss-matching histories. Missing or newer-than-the-snapshot files are not an error
    /// (an older bundled model has none): that member's Adam restarts with the scheduled lr, which the report says.
    /// </summary>
    public static CouncilResumeReport Restore(string dir, CouncilTrainer trainer, long step)
    {
        trainer.Iteration = checked((int)step);
        var notes = new List<string>();
        var restarted = new List<int>();
        int matchingRestored = 0;
        for (int i = 0; i < trainer.Members.Count; i++)
        {
            var path = OptimizerFile(dir, i);
            if (!File.Exists(path))
            {
                notes.Add($"{Path.GetFileName(path)} not found: member {i}'s Adam restarts (moments and step counts from zero)");
                restarted.Add(i);
            }
            else
            {
                var tree = TorchFile.Load(path);
                long saved = MaxAdamStep(tree);
                if (saved > step)
                {
                    notes.Add($"{Path.GetFileName(path)} holds {saved} Adam steps, more than snapshot {Step8(step)} ran (a later, incomplete save): member {i}'s Adam restarts");
                    restarted.Add(i);
                }
                else trainer.LoadOptimizerStateDict(i, tree, path);
            }
            var lm = LossMatchingFile(dir, i);
            if (File.Exists(lm) && TorchFile.Load(lm) is IDictionary<string, object?> h && h.TryGetValue("iteration", out var it) && it is long l && l == step)
            {
                trainer.RestoreLossMatching(i, Values(h["adv"], lm), Values(h["council"], lm));
                matchingRestored++;
            }
        }
        if (matchingRestored < trainer.Members.Count)
            notes.Add($"loss-matching histories restart at ones for {trainer.Members.Count - matchingRestored} member(s) (no loss_matching_<i>.pt of step {Step8(step)}), as the reference's resume does");
        trainer.RestoreSchedule(step, restarted);
        return new CouncilResumeReport(step, restarted.Count == 0, matchingRestored == trainer.Members.Count, notes);
    }

    private static double[] Values(object? t, string what) =>
        t is Tensor x ? x.to(float64).data<double>().ToArray() : throw new InvalidDataException($"{what}: the histories are not tensors");

    /// <summary>The largest Adam <c>step</c> in an optimizer_&lt;i&gt;.pt tree (0 if there is no state yet).</summary>
    private static long MaxAdamStep(object? tree)
    {
        long max = 0;
        if (tree is not IDictionary<string, object?> root) return 0;
        foreach (var opt in root.Values)
        {
            if (opt is not IDictionary<string, object?> o || !o.TryGetValue("state", out var s) || s is not IDictionary<string, object?> state) continue;
            foreach (var entry in state.Values)
                if (entry is IDictionary<string, object?> e && e.TryGetValue("step", out var st))
                    max = Math.Max(max, st switch { Tensor t => (long)t.to(float64).item<double>(), long l => l, double d => (long)d, _ => 0 });
        }
        return max;
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
