using Pipeline.Engine.IO;
using Pipeline.Engine.StyleGan1;
using Pipeline.Engine.StyleGan2;
using static TorchSharp.torch;

namespace Pipeline.Worker.Operations.Projection;

/// <summary>
/// A generator checkpoint read once for projection, with its family detected from the keys (as `pipeline mix` does):
/// StyleGAN v1 (g_running, generator.progression.*) goes to projector.py's v1 loop, anything else to StyleGAN2's.
/// Building a generator hands the tree's tensors back (disposes them); so does <see cref="Dispose"/>.
/// </summary>
public sealed class ProjectionCheckpoint : IDisposable
{
    private object? _tree;

    public string Path { get; }
    public GanFamily Family { get; }

    private ProjectionCheckpoint(string path, object? tree)
    {
        Path = path;
        _tree = tree;
        Family = ModelFamily.Detect(tree);
    }

    /// <summary>Reads a torch.save file (zip or legacy). FileNotFoundException / InvalidDataException say what is wrong.</summary>
    public static ProjectionCheckpoint Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint not found: {path}", path);
        try { return new ProjectionCheckpoint(path, TorchFile.Load(path)); }
        catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
        {
            throw new InvalidDataException($"'{path}' is not a readable PyTorch checkpoint (torch.save zip or legacy format): {e.Message}", e);
        }
    }

    /// <summary>The v1 EMA generator (g_running, else generator), strictly loaded, on <paramref name="device"/>.</summary>
    public StyledGenerator CreateStyleGan1(Device device)
    {
        try
        {
            using var checkpoint = StyleGan1Checkpoint.FromTree(_tree, Path);
            return checkpoint.CreateGenerator(useRunningAverage: true, device: device);
        }
        finally { Dispose(); }
    }

    /// <summary>The StyleGAN2 checkpoint (g_ema, latent_avg), as <see cref="StyleGan2Checkpoint.Load"/> builds it.</summary>
    public StyleGan2Checkpoint StyleGan2()
    {
        StyleGan2Checkpoint? checkpoint = null;
        try { return checkpoint = StyleGan2Checkpoint.FromTree(_tree, Path); }
        finally { CheckpointTrees.DisposeTensors(Interlocked.Exchange(ref _tree, null), checkpoint?.LatentAvg); }
    }

    public void Dispose() => CheckpointTrees.DisposeTensors(Interlocked.Exchange(ref _tree, null));
}
