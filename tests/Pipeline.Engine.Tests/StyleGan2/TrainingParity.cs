using Pipeline.Engine.StyleGan2;
using TorchSharp;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;

namespace Pipeline.Engine.Tests.StyleGan2;

/// <summary>Handlers for train_losses, projector_* and ppl_parts.</summary>
internal static class TrainingParity
{
    public static void Losses(Sg2Case c)
    {
        var g = c.Generator();
        var d = c.Discriminator(file: "weights_d.pt");
        var real = c.In("real").clone().requires_grad_(true);
        var realPred = d.forward(real);
        var (fake, latents) = g.Forward([c.In("z")], new GenerateOptions { RandomizeNoise = false });
        var fakePred = d.forward(fake);
        c.Check("real_pred", realPred);
        c.Check("fake_pred", fakePred);
        c.Check("d_logistic_loss", TrainingLosses.DLogistic(realPred, fakePred));
        c.Check("g_nonsaturating_loss", TrainingLosses.GNonSaturating(fakePred));

        var r1 = TrainingLosses.R1Penalty(realPred, real);
        c.Check("r1_penalty", r1);
        c.Check("r1_weighted", c.ConfigDouble("r1") / 2 * r1 * c.ConfigDouble("d_reg_every"));
        var grad = torch.autograd.grad([d.forward(real).sum()], [real])[0];
        c.Check("grad_real", grad, aux: true);

        var pl = TrainingLosses.PathLengthPenalty(fake, latents, c.ConfigDouble("mean_path_length"), noise: c.In("pl_noise"));
        c.Check("path_lengths", pl.PathLengths);
        c.Check("path_mean", pl.PathMean);
        c.Check("path_penalty", pl.Penalty);
        c.Check("path_weighted", c.ConfigDouble("path_regularize") * c.ConfigDouble("g_reg_every") * pl.Penalty);
        // The penalties are differentiable (they are minimised in training).
        (r1 + pl.Penalty).backward();
    }

    private sealed class FixtureDraws(Sg2Case c) : IProjectorDraws
    {
        public Tensor MeanLatentZ(int n, int styleDim, Device device) => c.In("noise_sample");
        public IReadOnlyList<Tensor> InitialNoise(Generator g, int batch) =>
            Enumerable.Range(0, g.Config.NumLayers).Select(i => c.In($"noise_init.{i}")).ToList();
        public Tensor LatentNoise(int step, Tensor like) => c.In("latent_eps")[step];
    }

    public static void Projector(Sg2Case c)
    {
        var g = c.Generator();
        var opts = new ProjectorOptions
        {
            Steps = (int)c.ConfigDouble("step"),
            Lr = c.ConfigDouble("lr"),
            Noise = c.ConfigDouble("noise"),
            NoiseRamp = c.ConfigDouble("noise_ramp"),
            NoiseRegularize = c.ConfigDouble("noise_regularize"),
            MseWeight = c.ConfigDouble("mse"),
            WPlus = c.Config.GetProperty("w_plus").GetBoolean(),
            NMeanLatent = (int)c.ConfigDouble("n_mean_latent"),
            LrRampUp = c.ConfigDouble("lr_rampup"),
            LrRampDown = c.ConfigDouble("lr_rampdown"),
            Coupling = ProjectionCoupling.Reference,
            RecordLatentPath = true,
        };
        var r = new Projector(g, opts).Project(c.In("target"), new FixtureDraws(c));
        c.Check("latent_mean", r.LatentMean);
        c.Check("latent_std", tensor(new[] { r.LatentStd }));
        c.Check("lr", tensor(r.History.Select(h => h.Lr).ToArray()));
        c.Check("noise_strength", tensor(r.History.Select(h => h.NoiseStrength).ToArray()));
        c.Check("loss", tensor(r.History.Select(h => h.Loss).ToArray()));
        c.Check("mse", tensor(r.History.Select(h => h.Mse).ToArray()));
        c.Check("noise_reg", tensor(r.History.Select(h => h.NoiseReg).ToArray()));
        c.Check("latent_path", stack(r.LatentPath!));
        c.Check("latent_final", r.Latent);
        for (int i = 0; i < r.Noises.Count; i++) c.Check($"noise_final.{i}", r.Noises[i]);
        c.Check("image_final", r.Image);
    }

    public static void Ppl(Sg2Case c)
    {
        var g = c.Generator();
        using var _ = no_grad();
        var (a, b, t) = (c.In("a"), c.In("b"), c.In("t").unsqueeze(1));
        double eps = c.ConfigDouble("eps");
        c.Check("slerp", PplSampling.Slerp(a, b, t));
        c.Check("slerp_eps", PplSampling.Slerp(a, b, t + eps));
        c.Check("lerp", PplSampling.Lerp(a, b, t));

        // Inputs interleave a_0, b_0, a_1, b_1, ...
        var inputs = stack([a, b], 1).view(-1, a.shape[1]);
        var latentE = PplSampling.WSpacePairs(g, inputs, c.In("t"), eps);
        c.Check("latent_e", latentE);
        var images = g.Forward([latentE], new GenerateOptions { InputIsLatent = true, RandomizeNoise = false }).Image;
        c.Check("image_pairs", images);
        c.Check("image_crop", PplSampling.FaceCrop(images));

        var dist = c.In("distances").to(float64).data<double>().ToArray();
        var f = PplSampling.PercentileFilter(dist);
        c.Check("percentile_lo", tensor(new[] { f.Low }));
        c.Check("percentile_hi", tensor(new[] { f.High }));
        c.Check("ppl", tensor(new[] { f.Mean }));
        c.Check("n_kept", tensor(new[] { (double)f.Kept }));
    }
}
