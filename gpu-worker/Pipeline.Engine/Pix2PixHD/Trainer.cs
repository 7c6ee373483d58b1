using Pipeline.Engine.IO;
using Pipeline.Engine.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>Scalar values of one iteration's losses (disabled terms are null), for logs and progress.</summary>
public sealed record TrainStepStats(long Iteration, double GGan, double? GGanFeat, double? GVgg, double DReal, double DFake, double LossG, double LossD, double Lr);

/// <summary>
/// train.py for a global generator without features (spec 7, 8.6): G and D with the reference initialisation, Adam
/// (lr 0.0002, betas 0.5/0.999) for each, G updated on loss_G then D on loss_D, the linear decay after niter epochs,
/// and checkpoints as <c>Pix2PixHDModel.save</c> writes them (bare state_dicts named <c>{label}_net_G.pth</c> / <c>_net_D.pth</c>).
/// </summary>
public sealed class Trainer : IDisposable
{
    public Pix2PixHDOptions Options { get; }
    public GlobalGenerator NetG { get; }
    public MultiscaleDiscriminator NetD { get; }
    public Vgg19? Vgg { get; }
    public Device Device { get; }
    public long Iteration { get; private set; }
    private readonly ReferenceAdam _optG, _optD;
    private readonly double _lr0;

    /// <param name="vgg">VGG19 with ImageNet weights, or null when the options turn the VGG loss off.</param>
    public Trainer(Pix2PixHDOptions options, long seed, Device? device = null, Vgg19? vgg = null, double lr = 0.0002, double beta1 = 0.5)
    {
        options.Validate();
        if (options.NetG != "global" || options.UsesFeatures)
            throw new ArgumentException("training covers the global generator without instance/label features (netG global, no instance_feat/label_feat)");
        if (!options.NoVggLoss && vgg is null) throw new ArgumentException("the VGG loss is on, so VGG19 weights are required (or set no_vgg_loss)", nameof(vgg));
        Options = options;
        Device = device ?? CPU;
        manual_seed(seed);
        NetG = new GlobalGenerator(options.NetGInputNc, options.OutputNc, options.Ngf, options.NDownsampleGlobal, options.NBlocksGlobal, options.Norm);
        NetD = new MultiscaleDiscriminator(DiscriminatorConfig.From(options));
        InitWeights(NetG);
        InitWeights(NetD);
        NetG.to(Device);
        NetD.to(Device);
        Vgg = vgg?.to(Device);
        _lr0 = lr;
        _optG = new ReferenceAdam(NetG.parameters(), lr, beta1, 0.999);
        _optD = new ReferenceAdam(NetD.parameters(), lr, beta1, 0.999);
    }

    public double LearningRate => _optG.LearningRate;

    /// <summary>
    /// networks.weights_init: conv weights ~ N(0, 0.02), BatchNorm weight ~ N(1, 0.02) and bias 0; conv biases keep
    /// PyTorch's default initialisation, as the reference leaves them.
    /// </summary>
    private static void InitWeights(nn.Module module)
    {
        using var _ = no_grad();
        foreach (var (name, m) in module.named_modules())
        {
            switch (m)
            {
                case Nn.Conv2d c: c.weight!.normal_(0, 0.02); break;
                case Nn.ConvTranspose2d t: t.weight!.normal_(0, 0.02); break;
                case TorchSharp.Modules.BatchNorm2d b:
                    b.weight!.normal_(1, 0.02);
                    b.bias!.zero_();
                    break;
            }
        }
    }

    /// <summary>
    /// One iteration on a batch: label ids [B,1,H,W] and photos [B,3,H,W] in [-1,1] (on any device). The instance map
    /// is the label map (the synthetic data has no instances), used only when no_instance is off.
    /// </summary>
    public TrainStepStats Step(Tensor label, Tensor image)
    {
        using var scope = NewDisposeScope();
        label = label.to(Device);
        image = image.to(Device);
        var l = TrainingStep.Forward(Options, NetG, NetD, null, Vgg, label, Options.NoInstance ? null : label, image);
        var lossG = l.LossG;
        var lossD = l.LossD;
        // All D passes happened above; G first, then D, as train.py. D's zero_grad drops what loss_G left on D.
        _optG.ZeroGrad();
        lossG.backward();
        _optG.Step();
        _optD.ZeroGrad();
        lossD.backward();
        _optD.Step();
        var stats = new TrainStepStats(Iteration, l.GGan.item<float>(), l.GGanFeat?.item<float>(), l.GVgg?.item<float>(),
            l.DReal.item<float>(), l.DFake.item<float>(), lossG.item<float>(), lossD.item<float>(), LearningRate);
        Iteration++;
        return stats;
    }

    /// <summary>train.py's update_learning_rate at the end of an epoch past niter: both rates drop by lr0 / niter_decay.</summary>
    public void DecayLearningRate(int niterDecay)
    {
        double lr = Math.Max(0, LearningRate - _lr0 / Math.Max(1, niterDecay));
        _optG.LearningRate = lr;
        _optD.LearningRate = lr;
    }

    /// <summary>G's output for label ids [B,1,H,W] without gradients (sample sheets).</summary>
    public Tensor Sample(Tensor label)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        label = label.to(Device);
        var input = InputEncoding.EncodeLabel(label, Options.NoInstance ? null : label, Options.LabelNc, Options.NoInstance);
        return scope.MoveToOuter(NetG.forward(input).cpu());
    }

    /// <summary>
    /// Pix2PixHDModel.save(label): <c>{label}_net_G.pth</c> and <c>{label}_net_D.pth</c>, each a bare state_dict in
    /// torch.save's zip format whose archive folder is the file stem, as PyTorch names it.
    /// </summary>
    public void Save(string dir, string label = "latest")
    {
        Directory.CreateDirectory(dir);
        foreach (var (net, suffix) in new (nn.Module, string)[] { (NetG, "G"), (NetD, "D") })
        {
            var stem = $"{label}_net_{suffix}";
            var sd = new OrderedDictionary<string, object?>();
            foreach (var (k, v) in net.state_dict()) sd[k] = v.detach().cpu();
            TorchFile.Save(Path.Combine(dir, stem + ".pth"), sd, stem);
        }
    }

    public void Dispose()
    {
        _optG.Dispose();
        _optD.Dispose();
        NetG.Dispose();
        NetD.Dispose();
        Vgg?.Dispose();
    }
}
