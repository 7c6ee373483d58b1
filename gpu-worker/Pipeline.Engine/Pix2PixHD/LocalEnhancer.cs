using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Pipeline.Engine.Pix2PixHD;

/// <summary>
/// The reference's LocalEnhancer (spec 4.2): a truncated GlobalGenerator of width ngf*2^L as `model` on the
/// coarsest pyramid level, then L enhancers `model{n}_1` (front end) / `model{n}_2` (back end), the last one ending in
/// reflpad, conv7 and tanh. Enhancer modules are registered under their reference names, so keys match.
/// </summary>
public sealed class LocalEnhancer : Module<Tensor, Tensor>
{
    private readonly Sequential model;
    private readonly List<(Sequential Front, Sequential Back)> enhancers = [];

    public int NLocalEnhancers { get; }

    public LocalEnhancer(int inputNc, int outputNc, int ngf, int nDownsampleGlobal, int nBlocksGlobal,
        int nLocalEnhancers, int nBlocksLocal, NormKind norm) : base(nameof(LocalEnhancer))
    {
        if (nLocalEnhancers < 1) throw new ArgumentOutOfRangeException(nameof(nLocalEnhancers), "a local enhancer needs at least one enhancer stage");
        NLocalEnhancers = nLocalEnhancers;
        model = Sequential(GlobalGenerator.BuildLayers(inputNc, outputNc, ngf * (1 << nLocalEnhancers), nDownsampleGlobal, nBlocksGlobal, norm, truncated: true));
        for (int n = 1; n <= nLocalEnhancers; n++)
        {
            long ngfN = (long)ngf * (1 << (nLocalEnhancers - n));
            var front = Sequential(
                Layers.Pad(3), Layers.Conv(inputNc, ngfN, 7, 1, 0), Layers.Norm(norm, ngfN), ReLU(),
                Layers.Conv(ngfN, ngfN * 2, 3, 2, 1), Layers.Norm(norm, ngfN * 2), ReLU());
            var back = new List<Module<Tensor, Tensor>>();
            for (int b = 0; b < nBlocksLocal; b++) back.Add(new ResnetBlock(ngfN * 2, norm));
            back.Add(Layers.Up(ngfN * 2, ngfN));
            back.Add(Layers.Norm(norm, ngfN));
            back.Add(ReLU());
            if (n == nLocalEnhancers)
            {
                back.Add(Layers.Pad(3));
                back.Add(Layers.Conv(ngf, outputNc, 7, 1, 0));
                back.Add(Tanh());
            }
            enhancers.Add((front, Sequential(back)));
        }
        RegisterComponents();
        for (int n = 1; n <= nLocalEnhancers; n++)
        {
            register_module($"model{n}_1", enhancers[n - 1].Front);
            register_module($"model{n}_2", enhancers[n - 1].Back);
        }
    }

    public override Tensor forward(Tensor x) => ForwardStages(x, null);

    /// <summary>
    /// Forward that reports every stage: "input_downsampled.{k}", "global_out", "model{n}_1", "model{n}_2".
    /// </summary>
    public Tensor ForwardStages(Tensor x, Action<string, Tensor>? observe)
    {
        var pyramid = new List<Tensor> { x };
        for (int k = 0; k < NLocalEnhancers; k++)
        {
            pyramid.Add(Layers.Downsample(pyramid[^1]));
            observe?.Invoke($"input_downsampled.{k + 1}", pyramid[^1]);
        }
        var output = model.forward(pyramid[NLocalEnhancers]);
        observe?.Invoke("global_out", output);
        for (int n = 1; n <= NLocalEnhancers; n++)
        {
            var input = pyramid[NLocalEnhancers - n];
            var front = enhancers[n - 1].Front.forward(input);
            observe?.Invoke($"model{n}_1", front);
            if (!front.shape.SequenceEqual(output.shape))
                throw new ArgumentException($"LocalEnhancer: input {x.shape[2]}x{x.shape[3]} gives enhancer {n} features [{string.Join(", ", front.shape)}] " +
                    $"but the coarser stage produced [{string.Join(", ", output.shape)}]; sizes must be multiples of 2^(n_downsample_global + n_local_enhancers)");
            output = enhancers[n - 1].Back.forward(front + output);
            observe?.Invoke($"model{n}_2", output);
        }
        return output;
    }
}
