using Pipeline.Engine.Pix2PixHD;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.Pix2PixHD;

/// <summary>`train_step*`: losses, fake image and gradients of one iteration, with the options of the fixture's argv.</summary>
internal static class TrainStepCases
{
    public static void Run(ParityCase c)
    {
        var o = OptionsParser.FromArgv(c.Config.GetProperty("argv").EnumerateArray().Select(e => e.GetString()!));
        var (g, _) = Networks.LoadGenerator(c.Weights("latest_net_G.pth"), GeneratorConfig.From(o));
        var d = Networks.LoadDiscriminator(c.Weights("latest_net_D.pth"), useSigmoid: o.NoLsgan);
        Assert.Equal(DiscriminatorConfig.From(o), d.Config);
        var e = o.UsesFeatures ? Networks.LoadEncoder(c.Weights("latest_net_E.pth")) : null;
        Vgg19? vgg = null;
        if (!o.NoVggLoss)
        {
            vgg = new Vgg19();
            vgg.LoadHashWeights();
            CheckVggWeights(c, vgg);
        }
        var label = c["in.label"];
        var inst = c.Has("in.inst") && !o.NoInstance ? c["in.inst"] : null;
        var image = c["in.image"];

        var r = TrainingStep.Forward(o, g, d, e, vgg, label, inst, image);
        c.CheckIfPresent("aux.input_label", InputEncoding.EncodeLabel(label, inst, o.LabelNc, o.NoInstance));
        c.Check("out.fake_image", r.Fake);
        for (int i = 0; i < r.PredFake.Count; i++)
        {
            c.CheckIfPresent($"aux.pred_fake.d{i}", r.PredFake[i][^1]);
            c.CheckIfPresent($"aux.pred_real.d{i}", r.PredReal[i][^1]);
        }
        c.Check("out.loss_G_GAN", r.GGan.reshape(1));
        if (r.GGanFeat is not null) c.Check("out.loss_G_GAN_Feat", r.GGanFeat.reshape(1));
        if (r.GVgg is not null) c.Check("out.loss_G_VGG", r.GVgg.reshape(1));
        c.Check("out.loss_D_real", r.DReal.reshape(1));
        c.Check("out.loss_D_fake", r.DFake.reshape(1));
        c.Check("out.loss_G", r.LossG.reshape(1));
        c.Check("out.loss_D", r.LossD.reshape(1));
        if (vgg is not null && c.TensorNames.Contains("aux.vgg_l1_per_slice"))
        {
            var slices = new double[5];
            using (no_grad()) Losses.Vgg(vgg, r.Fake.detach(), image, (k, t) => slices[k] = t.item<float>());
            c.Check("aux.vgg_l1_per_slice", tensor(slices));
        }

        // What optimizer_G sees: gradients of loss_G after zero_grad; then optimizer_D's of loss_D.
        g.zero_grad();
        e?.zero_grad();
        d.zero_grad();
        r.LossG.backward();
        CheckGrads(c, "out.grad_G.", g);
        if (e is not null) CheckGrads(c, "out.grad_E.", e);
        d.zero_grad();
        r.LossD.backward();
        CheckGrads(c, "out.grad_D.", d);
    }

    private static void CheckGrads(ParityCase c, string prefix, nn.Module module)
    {
        var names = c.Matching(prefix).ToList();
        var parameters = module.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var name in names)
        {
            var key = name[prefix.Length..];
            Assert.True(parameters.TryGetValue(key, out var p), $"{c.Kind}: the port has no parameter '{key}' for {name}");
            Assert.NotNull(p!.grad);
            c.Check(name, p.grad!);
        }
    }

    private static void CheckVggWeights(ParityCase c, Vgg19 vgg)
    {
        var sd = vgg.state_dict();
        var sums = new List<double>();
        var heads = new List<double>();
        foreach (var (index, _, _) in Vgg19.Convs)
        {
            var key = sd.Keys.Single(k => k.EndsWith($".{index}.weight", StringComparison.Ordinal));
            var w = sd[key];
            var b = sd[key[..^"weight".Length] + "bias"];
            sums.Add(w.to(ScalarType.Float64).sum().item<double>());
            sums.Add(b.to(ScalarType.Float64).sum().item<double>());
            heads.AddRange(w.flatten()[..8].to(ScalarType.Float64).data<double>().ToArray());
            heads.AddRange(b.flatten()[..8].to(ScalarType.Float64).data<double>().ToArray());
        }
        c.CheckIfPresent("aux.vgg_param_sums", tensor(sums.ToArray()).view(-1, 2));
        c.CheckIfPresent("aux.vgg_param_heads", tensor(heads.ToArray()).view(-1, 16));
    }
}
