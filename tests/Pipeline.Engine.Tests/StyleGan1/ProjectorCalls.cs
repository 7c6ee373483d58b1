using System.Text.Json;
using Pipeline.Engine.StyleGan1;
using static TorchSharp.torch;

namespace Pipeline.Engine.Tests.StyleGan1;

/// <summary>
/// The "projector" fixture op: get_lr at the recorded t values, latent statistics, noise regularisation (+ gradient),
/// noise renormalisation and a short optimisation loop with the recorded latent perturbations (no LPIPS term).
/// </summary>
internal static class ProjectorCalls
{
    public static void Run(FixtureCase fx, JsonElement call)
    {
        var g = fx.Generator("g_running");
        int step = call.Int("step");
        double lr = call.Dbl("lr", 0.1);
        var noiseNames = Enumerable.Range(0, step + 1).Select(i => $"in.noise.{i}").ToArray();

        var ts = fx.Meta.GetProperty("scalars").GetProperty("t_values").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        fx.Check("out.lr", tensor(ts.Select(t => StyleGan1Projector.GetLr(t, lr)).ToArray()));

        var (mean, std) = StyleGan1Projector.LatentStats(g, fx.In("in.z_mean"));
        fx.Check("out.latent_mean", mean);
        fx.Check("out.latent_std", std.reshape(1));

        var leaves = noiseNames.Select(n => fx.In(n).detach().clone().requires_grad_(true)).ToArray();
        var reg = StyleGan1Projector.NoiseRegularize(leaves);
        fx.Check("out.noise_reg", reg.reshape(1));
        reg.backward();
        for (int i = 0; i < leaves.Length; i++) fx.Check($"out.noise_reg_grad.{i}", leaves[i].grad!);

        var normalized = noiseNames.Select(n => fx.In(n).clone()).ToArray();
        StyleGan1Projector.NoiseNormalize_(normalized);
        for (int i = 0; i < normalized.Length; i++) fx.Check($"out.noise_normalized.{i}", normalized[i]);

        int batch = call.Int("batch");
        var latent = mean.unsqueeze(0).repeat(batch, 1);
        var noises = noiseNames.Select(n => fx.In(n).clone()).ToArray();
        var options = new StyleGan1ProjectorOptions
        {
            Step = step,
            Iterations = call.Int("iters"),
            LearningRate = lr,
            Mse = call.Dbl("mse", 0),
            NoiseRegularize = call.Dbl("noise_reg", 1e5),
        };
        var losses = StyleGan1Projector.Optimize(g, fx.In("in.imgs"), latent, noises, std, options, latentDraw: i => fx.In($"in.latent_draw.{i}"));
        for (int i = 0; i < losses.Count; i++) fx.Check($"out.loop.{i}.loss", tensor(new[] { losses[i] }));
        fx.Check("out.latent_in", latent);
        for (int i = 0; i < noises.Length; i++) fx.Check($"out.noises.{i}", noises[i]);
        using (no_grad())
            fx.Check("out.img_gen", g.Forward([latent], new StyleGan1ForwardOptions { Step = step, Noise = noises }));
    }
}
