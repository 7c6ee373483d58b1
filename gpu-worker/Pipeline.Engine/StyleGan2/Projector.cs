using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Engine.StyleGan2;

/// <summary>Step <see cref="Step"/> of <see cref="Steps"/> is done; <see cref="Loss"/> reads its total loss.</summary>
public readonly record struct ProjectionProgress(int Step, int Steps, Func<double> Loss);

/// <summary>
/// GAN inversion as projector.py (spec 7): Adam on the latent (w or W+) and the per-layer noise maps, lr ramp,
/// decaying latent noise, noise regularisation and renormalisation. Projects a whole batch of different images in
/// one optimisation, each with its own latent. Perceptual loss is pluggable; without one use MseWeight &gt; 0.
/// </summary>
public sealed class Projector(Generator g, ProjectorOptions options, IPerceptualLoss? perceptual = null)
{
    public Generator G { get; } = g;
    public ProjectorOptions Options { get; } = options;

    /// <summary>get_lr: cosine ramp-down over the last <paramref name="rampDown"/>, linear ramp-up over the first <paramref name="rampUp"/>.</summary>
    public static double GetLr(double t, double initialLr, double rampDown = 0.25, double rampUp = 0.05)
    {
        double r = Math.Min(1, (1 - t) / rampDown);
        r = 0.5 - 0.5 * Math.Cos(r * Math.PI);
        r *= Math.Min(1, t / rampUp);
        return initialLr * r;
    }

    /// <summary>
    /// noise_regularize: squared means of noise * its 1-pixel roll (both axes) over a pyramid down to 8x8. Reference:
    /// means over the whole batch -> scalar; <paramref name="perImage"/>: per image, summed over images.
    /// </summary>
    public static Tensor NoiseRegularize(IEnumerable<Tensor> noises, bool perImage = false) => NoiseRegularize(noises, perImage, out _);

    /// <summary>
    /// <see cref="NoiseRegularize(IEnumerable{Tensor}, bool)"/>, and with <paramref name="perImage"/> each image's share
    /// (detached, [B]) for per-image loss curves; the loss itself is computed by the very same operations.
    /// </summary>
    public static Tensor NoiseRegularize(IEnumerable<Tensor> noises, bool perImage, out Tensor? imageTerms)
    {
        Tensor? loss = null;
        imageTerms = null;
        foreach (var n0 in noises)
        {
            var n = n0;
            long size = n.shape[2];
            while (true)
            {
                var a = n * n.roll(1, 3);
                var b = n * n.roll(1, 2);
                Tensor term;
                if (perImage)
                {
                    var perImageTerm = a.mean([1, 2, 3]).square() + b.mean([1, 2, 3]).square();
                    term = perImageTerm.sum();
                    imageTerms = imageTerms is null ? perImageTerm.detach() : imageTerms + perImageTerm.detach();
                }
                else term = a.mean().square() + b.mean().square();
                loss = loss is null ? term : loss + term;
                if (size <= 8) break;
                n = n.reshape(-1, 1, size / 2, 2, size / 2, 2).mean([3, 5]);
                size /= 2;
            }
        }
        return loss ?? tensor(0f);
    }

    /// <summary>noise_normalize_: in place, subtract the mean and divide by the unbiased std (whole tensor, or per image).</summary>
    public static void NoiseNormalize(IEnumerable<Tensor> noises, bool perImage = false)
    {
        using var _ = no_grad();
        foreach (var n in noises)
        {
            if (perImage)
            {
                var mean = n.mean([1, 2, 3], keepdim: true);
                var std = n.std([1, 2, 3], unbiased: true, keepdim: true);
                n.sub_(mean).div_(std);
            }
            else
            {
                var mean = n.mean();
                var std = n.std(unbiased: true);
                n.sub_(mean).div_(std);
            }
        }
    }

    /// <summary>Box-averages generator output above 256 px down to 256 (projector.py), else returns it unchanged.</summary>
    public static Tensor DownsampleTo256(Tensor img)
    {
        long h = img.shape[2];
        if (h <= 256) return img;
        long f = h / 256;
        return img.reshape(img.shape[0], img.shape[1], h / f, f, img.shape[3] / f, f).mean([3, 5]);
    }

    /// <summary>
    /// Projects <paramref name="targets"/> [N, 3, R, R] in [-1, 1] (R = min(size, 256)).
    /// <paramref name="progress"/> receives each finished step; reading its loss synchronises with the device, so
    /// callers read it only when they show it.
    /// <paramref name="initialLatent"/>: the starting latent instead of the mean latent (an encoder's prediction),
    /// [N, n_latent, D] with <see cref="ProjectorOptions.WPlus"/>, else [N, D]. The mean latent and its spread are still
    /// computed, because the latent-noise schedule is scaled by that spread.
    /// </summary>
    public ProjectionResult Project(Tensor targets, IProjectorDraws? draws = null, IProgress<ProjectionProgress>? progress = null, CancellationToken ct = default) =>
        Project(targets, initialLatent: null, draws, progress, ct);

    /// <inheritdoc cref="Project(Tensor, IProjectorDraws?, IProgress{ProjectionProgress}?, CancellationToken)"/>
    public ProjectionResult Project(Tensor targets, Tensor? initialLatent, IProjectorDraws? draws = null, IProgress<ProjectionProgress>? progress = null, CancellationToken ct = default)
    {
        draws ??= new RandomProjectorDraws();
        var o = Options;
        if (perceptual is null && o.MseWeight <= 0)
            throw new InvalidOperationException("no perceptual loss is configured and the MSE weight is 0: nothing to optimise (set MseWeight > 0)");
        var device = G.Device;
        targets = targets.to(float32, device);
        int batch = (int)targets.shape[0];
        bool perImage = o.Coupling == ProjectionCoupling.Independent;

        Tensor latentMean;
        double latentStd;
        using (no_grad())
        {
            var w = G.Map(draws.MeanLatentZ(o.NMeanLatent, G.Config.StyleDim, device));
            latentMean = w.mean([0]);
            latentStd = ((w - latentMean).square().sum() / o.NMeanLatent).sqrt().item<float>();
        }

        var noises = draws.InitialNoise(G, batch).Select(n => n.to(float32, device).detach().clone().requires_grad_(true)).ToList();
        var latentIn = (initialLatent is not null ? CheckedInitial(initialLatent, batch, o.WPlus).to(float32, device)
                : o.WPlus ? latentMean.view(1, 1, -1).repeat(batch, G.Config.NLatent, 1)
                : latentMean.view(1, -1).repeat(batch, 1))
            .detach().clone().requires_grad_(true);
        var adam = new AdamState([latentIn, .. noises]);

        var losses = new List<Tensor>();
        var imageLosses = new List<Tensor>();
        var path = o.RecordLatentPath ? new List<Tensor>() : null;
        var lrs = new double[o.Steps];
        var strengths = new double[o.Steps];
        for (int i = 0; i < o.Steps; i++)
        {
            ct.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            double t = (double)i / o.Steps;
            lrs[i] = GetLr(t, o.Lr, o.LrRampDown, o.LrRampUp);
            strengths[i] = latentStd * o.Noise * Math.Pow(Math.Max(0, 1 - t / o.NoiseRamp), 2);
            var latentN = latentIn + draws.LatentNoise(i, latentIn).to(device) * strengths[i];
            var img = DownsampleTo256(G.Forward([latentN], new GenerateOptions { InputIsLatent = true, Noise = noises }).Image);

            var pImage = perceptual?.Distance(img, targets);
            var pLoss = pImage is null ? zeros(1, device: device).sum() : pImage.sum();
            var nLoss = NoiseRegularize(noises, perImage, out var nImage);
            var mseImage = perImage ? (img - targets).square().mean([1, 2, 3]) : null;
            var mse = mseImage is not null ? mseImage.sum() : nn.functional.mse_loss(img, targets);
            var loss = pLoss + o.NoiseRegularize * nLoss + o.MseWeight * mse;
            // Independent images: each one's own loss (the terms above before their sum), for one curve per image.
            if (perImage)
            {
                var own = o.NoiseRegularize * nImage! + o.MseWeight * mseImage!.detach();
                if (pImage is not null) own = own + pImage.detach().reshape(batch);
                imageLosses.Add(scope.MoveToOuter(own));
            }
            adam.ZeroGrad();
            loss.backward();
            adam.Step(lrs[i]);
            NoiseNormalize(noises, perImage);

            losses.Add(scope.MoveToOuter(stack([loss.detach(), mse.detach(), nLoss.detach(), pLoss.detach()])));
            if (path is not null) path.Add(scope.MoveToOuter(latentIn.detach().clone()));
            if (progress is not null)
            {
                var stepLosses = losses[^1];
                progress.Report(new ProjectionProgress(i, o.Steps, () => stepLosses[0].to(float64).item<double>()));
            }
        }

        var history = new List<ProjectionStep>();
        if (losses.Count > 0)
        {
            var all = stack(losses).cpu().to(float64);
            var v = all.data<double>().ToArray();
            var own = imageLosses.Count == o.Steps ? stack(imageLosses).cpu().to(float64).data<double>().ToArray() : null;
            for (int i = 0; i < o.Steps; i++)
                history.Add(new ProjectionStep(i, lrs[i], strengths[i], v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3])
                {
                    ImageLosses = own?[(i * batch)..((i + 1) * batch)],
                });
        }
        var finalLatent = latentIn.detach();
        var finalNoise = noises.Select(n => n.detach()).ToList();
        Tensor image;
        using (no_grad())
            image = G.Forward([finalLatent], new GenerateOptions { InputIsLatent = true, Noise = finalNoise }).Image;
        return new ProjectionResult(finalLatent, finalNoise, image, latentMean, latentStd, history, path);
    }

    private Tensor CheckedInitial(Tensor init, int batch, bool wPlus)
    {
        long[] want = wPlus ? [batch, G.Config.NLatent, G.Config.StyleDim] : [batch, G.Config.StyleDim];
        if (!init.shape.SequenceEqual(want))
            throw new ArgumentException($"initial latent has shape [{string.Join(", ", init.shape)}], the projection needs [{string.Join(", ", want)}] ({(wPlus ? "W+" : "w")})");
        return init;
    }

    /// <summary>
    /// Adam as PyTorch's single-tensor path (betas 0.9/0.999, eps 1e-8, no weight decay), lr set per step, with the
    /// moments and the update held in float64 and only the parameter rounded to its own dtype. Why: in float32 the
    /// fused pointwise kernels (lerp_, addcmul_, addcdiv_) round differently with FMA (ATen's AVX2/AVX-512 kernels)
    /// and without (its scalar kernels); a W+ trajectory can pass within 1e-7 of a leaky-ReLU kink, and that last
    /// bit picked the slope (docs/stylegan2.md, "Projection on every CPU"). float64 keeps the trajectory on the
    /// exact-arithmetic path that the reference's tolerances are built from, on every instruction set.
    /// </summary>
    private sealed class AdamState(IReadOnlyList<Tensor> parameters, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        private readonly Tensor[] _m = parameters.Select(p => zeros_like(p, dtype: float64)).ToArray();
        private readonly Tensor[] _v = parameters.Select(p => zeros_like(p, dtype: float64)).ToArray();
        private int _step;

        public void ZeroGrad()
        {
            foreach (var p in parameters) p.grad?.zero_();
        }

        public void Step(double lr)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            _step++;
            double bc1 = 1 - Math.Pow(beta1, _step);
            double bc2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, _step));
            for (int k = 0; k < parameters.Count; k++)
            {
                var p = parameters[k];
                var grad = (p.grad ?? throw new InvalidOperationException("projection parameter received no gradient")).to(float64);
                _m[k].lerp_(grad, 1 - beta1);
                _v[k].mul_(beta2).addcmul_(grad, grad, 1 - beta2);
                var denom = (_v[k].sqrt() / bc2Sqrt).add_(eps);
                p.copy_(p.to(float64).addcdiv_(_m[k], denom, -lr / bc1));
            }
        }
    }
}
