using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>Result of <see cref="TrainingLosses.PathLengthPenalty"/>: the penalty, the updated (detached) running mean, per-sample lengths.</summary>
public sealed record PathLengthResult(Tensor Penalty, Tensor PathMean, Tensor PathLengths);

/// <summary>train.py's loss functions (spec 9.4), usable by a training loop or for checks.</summary>
public static class TrainingLosses
{
    /// <summary>d_logistic_loss: mean(softplus(-D(real))) + mean(softplus(D(fake))).</summary>
    public static Tensor DLogistic(Tensor realPred, Tensor fakePred) =>
        nn.functional.softplus(-realPred).mean() + nn.functional.softplus(fakePred).mean();

    /// <summary>g_nonsaturating_loss: mean(softplus(-D(G(z)))).</summary>
    public static Tensor GNonSaturating(Tensor fakePred) => nn.functional.softplus(-fakePred).mean();

    /// <summary>
    /// d_r1_loss: mean over the batch of sum((d sum(real_pred) / d real_img)^2). <paramref name="realImg"/> must require
    /// grad and <paramref name="realPred"/> be computed from it; the graph is kept so the penalty can be minimised.
    /// </summary>
    public static Tensor R1Penalty(Tensor realPred, Tensor realImg)
    {
        var grad = torch.autograd.grad([realPred.sum()], [realImg], retain_graph: true, create_graph: true)[0];
        return grad.square().reshape(grad.shape[0], -1).sum(1).mean();
    }

    /// <summary>
    /// g_path_regularize: lengths sqrt(mean_layers(sum_dims(grad^2))) of d sum(fake * noise/sqrt(HW)) / d latents,
    /// running mean update with <paramref name="decay"/>, penalty mean((length - mean)^2).
    /// <paramref name="noise"/> is the standard-normal draw (fresh when null).
    /// </summary>
    public static PathLengthResult PathLengthPenalty(Tensor fakeImg, Tensor latents, double meanPathLength, double decay = 0.01, Tensor? noise = null)
    {
        noise ??= randn_like(fakeImg);
        noise = noise / Math.Sqrt(fakeImg.shape[2] * fakeImg.shape[3]);
        var grad = torch.autograd.grad([(fakeImg * noise).sum()], [latents], retain_graph: true, create_graph: true)[0];
        var lengths = grad.square().sum(2).mean([1]).sqrt();
        var pathMean = meanPathLength + decay * (lengths.mean() - meanPathLength);
        var penalty = (lengths - pathMean).square().mean();
        return new PathLengthResult(penalty, pathMean.detach(), lengths);
    }
}
