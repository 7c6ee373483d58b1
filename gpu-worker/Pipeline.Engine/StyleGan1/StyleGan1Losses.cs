using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan1;

/// <summary>Scalar values of a discriminator step (what train.py logs), detached.</summary>
public sealed record DiscriminatorStepValues(Tensor RealPredict, Tensor FakePredict, Tensor GradPenalty, Tensor DiscLoss);

/// <summary>
/// train.py's losses (spec section 11.4). The discriminator functions back-propagate every term into D's
/// gradients (accumulating, as train.py's three backward calls do); the caller steps the optimiser.
/// </summary>
public static class StyleGan1Losses
{
    /// <summary>
    /// WGAN-GP: -(mean(D(real)) - drift * mean(D(real)^2)) + mean(D(fake)) + gpWeight * mean((||grad D(x_hat)|| - 1)^2),
    /// x_hat = eps * real + (1 - eps) * fake (both detached), eps [B, 1, 1, 1].
    /// </summary>
    public static DiscriminatorStepValues WganGpDiscriminator(Discriminator d, Tensor real, Tensor fake, Tensor eps, int step, double alpha,
        double drift = 0.001, double gpWeight = 10)
    {
        var realScores = d.Score(real, step, alpha);
        var realPredict = realScores.mean() - drift * realScores.pow(2).mean();
        (-realPredict).backward();
        var fakePredict = d.Score(fake.detach(), step, alpha).mean();
        fakePredict.backward();
        var xHat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(true);
        var hat = d.Score(xHat, step, alpha);
        var grad = torch.autograd.grad([hat.sum()], [xHat], retain_graph: true, create_graph: true)[0];
        var penalty = gpWeight * (grad.reshape(grad.shape[0], -1).norm(1) - 1).pow(2).mean();
        penalty.backward();
        return new DiscriminatorStepValues(realPredict.detach(), fakePredict.detach(), penalty.detach(), (-realPredict + fakePredict).detach());
    }

    /// <summary>R1: softplus(-D(real)) + softplus(D(fake)) + r1Weight * mean(||grad_real D(real)||^2) (train.py: 10 / 2).</summary>
    public static DiscriminatorStepValues R1Discriminator(Discriminator d, Tensor real, Tensor fake, int step, double alpha, double r1Weight = 5)
    {
        var x = real.detach().clone().requires_grad_(true);
        var realScores = d.Score(x, step, alpha);
        var realPredict = nn.functional.softplus(-realScores).mean();
        realPredict.backward(retain_graph: true);
        var grad = torch.autograd.grad([realScores.sum()], [x], retain_graph: true, create_graph: true)[0];
        var penalty = r1Weight * grad.reshape(grad.shape[0], -1).norm(1).pow(2).mean();
        penalty.backward();
        var fakePredict = nn.functional.softplus(d.Score(fake.detach(), step, alpha)).mean();
        fakePredict.backward();
        return new DiscriminatorStepValues(realPredict.detach(), fakePredict.detach(), penalty.detach(), (realPredict + fakePredict).detach());
    }

    /// <summary>Generator loss on D's scores of fake images: -mean (wgan-gp) or mean(softplus(-scores)) (r1).</summary>
    public static Tensor Generator(Tensor fakeScores, string loss) => loss switch
    {
        "wgan-gp" => -fakeScores.mean(),
        "r1" => nn.functional.softplus(-fakeScores).mean(),
        _ => throw new ArgumentException($"unknown loss '{loss}': use wgan-gp or r1", nameof(loss)),
    };

    /// <summary>EMA of parameters only (buffers untouched): running = decay * running + (1 - decay) * model.</summary>
    public static void Accumulate(nn.Module running, nn.Module model, double decay = 0.999)
    {
        using var _ = no_grad();
        var source = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in running.named_parameters())
            p.mul_(decay).add_(source[name], alpha: 1 - decay);
    }
}
