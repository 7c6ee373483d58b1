using static TorchSharp.torch;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>The loss terms of one iteration (disabled ones are null) and the generated image.</summary>
public sealed record TrainLosses(Tensor GGan, Tensor? GGanFeat, Tensor? GVgg, Tensor DReal, Tensor DFake, Tensor Fake,
    List<List<Tensor>> PredFake, List<List<Tensor>> PredReal)
{
    /// <summary>loss_G = G_GAN + G_GAN_Feat + G_VGG (absent terms count 0), as train.py forms it.</summary>
    public Tensor LossG => new[] { GGanFeat, GVgg }.Aggregate(GGan, (acc, t) => t is null ? acc : acc + t);

    /// <summary>loss_D = (D_fake + D_real) * 0.5.</summary>
    public Tensor LossD => (DFake + DReal) * 0.5;
}

/// <summary>
/// The forward pass of one training iteration (`Pix2PixHDModel.forward`, spec 7) over given networks: encode the input,
/// (encode features), generate, three D passes (fake detached, real, fake attached), and the enabled losses.
/// The optimiser steps stay with the caller (update G on LossG, then D on LossD).
/// </summary>
public static class TrainingStep
{
    public static TrainLosses Forward(Pix2PixHDOptions o, nn.Module<Tensor, Tensor> netG, MultiscaleDiscriminator netD,
        Encoder? netE, Vgg19? vgg, Tensor label, Tensor? inst, Tensor image)
    {
        var inputLabel = InputEncoding.EncodeLabel(label, inst, o.LabelNc, o.NoInstance);
        Tensor? featMap = null;
        if (o.UsesFeatures)
        {
            if (netE is null) throw new ArgumentException("the options use encoded features, so an encoder is required", nameof(netE));
            var poolBy = o.LabelFeat ? label : inst ?? throw new ArgumentException("instance_feat needs an instance map", nameof(inst));
            featMap = netE.forward(image, poolBy);
        }
        var fake = netG.forward(InputEncoding.GeneratorInput(inputLabel, featMap));

        bool lsgan = !o.NoLsgan;
        var predFakePool = netD.forward(cat([inputLabel, fake.detach()], 1));
        var dFake = Losses.Gan(predFakePool, false, lsgan);
        var predReal = netD.forward(cat([inputLabel, image], 1));
        var dReal = Losses.Gan(predReal, true, lsgan);
        var predFake = netD.forward(cat([inputLabel, fake], 1));
        var gGan = Losses.Gan(predFake, true, lsgan);

        Tensor? gFeat = o.NoGanFeatLoss ? null : Losses.FeatureMatching(predFake, predReal, o.NLayersD, o.LambdaFeat);
        Tensor? gVgg = null;
        if (!o.NoVggLoss)
        {
            if (vgg is null) throw new ArgumentException("the VGG loss is enabled (no_vgg_loss off), so VGG19 weights are required", nameof(vgg));
            gVgg = Losses.Vgg(vgg, fake, image) * o.LambdaFeat;
        }
        return new TrainLosses(gGan, gFeat, gVgg, dReal, dFake, fake, predFake, predReal);
    }
}
