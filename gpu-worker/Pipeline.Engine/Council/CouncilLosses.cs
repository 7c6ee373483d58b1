using static TorchSharp.torch;

namespace Pipeline.Engine.Council;

/// <summary>LSGAN terms over the scales of a multi-scale discriminator (sum over scales of means).</summary>
public static class CouncilLosses
{
    /// <summary>Per-scale mean((o − target)²), shape (S), scale 0 first.</summary>
    public static Tensor LsganTerms(IReadOnlyList<Tensor> outputs, float target)
    {
        if (outputs.Count == 0) throw new ArgumentException("no discriminator outputs");
        return stack(outputs.Select(o => target == 0 ? o.square().mean() : (o - target).square().mean()).ToArray());
    }

    /// <summary>D loss: Σ_s mean(D(fake)_s²) + mean((D(real)_s − 1)²).</summary>
    public static Tensor DisLoss(IReadOnlyList<Tensor> fake, IReadOnlyList<Tensor> real) =>
        LsganTerms(fake, 0).sum() + LsganTerms(real, 1).sum();

    /// <summary>G loss: Σ_s mean((D(fake)_s − 1)²).</summary>
    public static Tensor GenLoss(IReadOnlyList<Tensor> fake) => LsganTerms(fake, 1).sum();
}

/// <summary>
/// Loss matching: two FIFO histories (initialised with ones) of the unweighted adversarial and council losses;
/// the council term is weighted by mean(adversarial history) / mean(council history), a constant for autograd.
/// </summary>
public sealed class LossMatching
{
    private readonly Queue<double> _adv, _council;
    private readonly int _size;

    public LossMatching(int historySize)
    {
        if (historySize < 1) throw new ArgumentOutOfRangeException(nameof(historySize), "loss_matching_hist_size must be at least 1");
        _size = historySize;
        _adv = new Queue<double>(Enumerable.Repeat(1.0, historySize));
        _council = new Queue<double>(Enumerable.Repeat(1.0, historySize));
    }

    private void Push(Queue<double> q, double v)
    {
        q.Enqueue(v);
        while (q.Count > _size) q.Dequeue();
    }

    public void AddAdversarial(double v) => Push(_adv, v);

    public void AddCouncil(double v) => Push(_council, v);

    /// <summary>The two histories, oldest first (for saving a training run; the reference restarts them on resume).</summary>
    public (double[] Adversarial, double[] Council) History => ([.. _adv], [.. _council]);

    /// <summary>Replaces the histories with saved ones (each must have loss_matching_hist_size values).</summary>
    public void Restore(IReadOnlyList<double> adversarial, IReadOnlyList<double> council)
    {
        if (adversarial.Count != _size || council.Count != _size)
            throw new InvalidDataException($"loss-matching histories have {adversarial.Count}/{council.Count} values, loss_matching_hist_size is {_size}");
        _adv.Clear();
        _council.Clear();
        foreach (var v in adversarial) _adv.Enqueue(v);
        foreach (var v in council) _council.Enqueue(v);
    }

    /// <summary>mean(adv history) / mean(council history), in float64.</summary>
    public double Weight => _adv.Average() / _council.Average();
}
