using static TorchSharp.torch;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>The reference's training losses as functions (spec section 8).</summary>
public static class Losses
{
    /// <summary>
    /// GANLoss: per scale the last output of the list against a constant target (1 real, 0 fake), summed over scales.
    /// LSGAN = mean squared error; otherwise BCE on probabilities with logs clamped at -100 (needs a sigmoid D).
    /// </summary>
    public static Tensor Gan(IReadOnlyList<IReadOnlyList<Tensor>> result, bool targetIsReal, bool lsgan = true)
    {
        Tensor? total = null;
        foreach (var scale in result)
        {
            var pred = scale[^1];
            var target = targetIsReal ? ones_like(pred) : zeros_like(pred);
            var loss = lsgan
                ? nn.functional.mse_loss(pred, target, nn.Reduction.Mean)
                : nn.functional.binary_cross_entropy(pred, target, reduction: nn.Reduction.Mean);
            total = total is null ? loss : total + loss;
        }
        return total ?? throw new ArgumentException("discriminator result is empty", nameof(result));
    }

    /// <summary>
    /// Discriminator feature matching: Σ_i Σ_j (1/num_D)(4/(n_layers_D+1)) λ mean|fake_ij − real_ij| over every group
    /// output except the final logits; the real features are detached.
    /// </summary>
    public static Tensor FeatureMatching(IReadOnlyList<IReadOnlyList<Tensor>> predFake, IReadOnlyList<IReadOnlyList<Tensor>> predReal,
        int nLayersD, double lambdaFeat)
    {
        double featWeights = 4.0 / (nLayersD + 1), dWeights = 1.0 / predFake.Count;
        Tensor? total = null;
        for (int i = 0; i < predFake.Count; i++)
            for (int j = 0; j < predFake[i].Count - 1; j++)
            {
                var term = nn.functional.l1_loss(predFake[i][j], predReal[i][j].detach()) * (dWeights * featWeights * lambdaFeat);
                total = total is null ? term : total + term;
            }
        return total ?? zeros(1).squeeze();
    }

    /// <summary>Weights of the five VGG slices (relu1_1 .. relu5_1).</summary>
    public static readonly double[] VggWeights = [1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0];

    /// <summary>
    /// Perceptual loss: Σ_k w_k mean|V_k(fake) − V_k(real)| (real detached), on image-space inputs without ImageNet
    /// normalisation (quirk Q8). Multiply by lambda_feat for G_VGG. <paramref name="perSlice"/> gets the unweighted terms.
    /// </summary>
    public static Tensor Vgg(Vgg19 vgg, Tensor fake, Tensor real, Action<int, Tensor>? perSlice = null)
    {
        var xf = vgg.forward(fake);
        Tensor[] yf;
        using (no_grad()) yf = vgg.forward(real);
        Tensor? total = null;
        for (int k = 0; k < xf.Length; k++)
        {
            var l1 = nn.functional.l1_loss(xf[k], yf[k].detach());
            perSlice?.Invoke(k, l1);
            var term = l1 * VggWeights[k];
            total = total is null ? term : total + term;
        }
        return total!;
    }
}
