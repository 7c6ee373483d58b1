using Pipeline.Engine;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.StyleGan2;

/// <summary>
/// Batches projection jobs that run at the same time on the same model and settings into one optimisation
/// (each image keeps its own latent, noise and seed; <see cref="ProjectionCoupling.Independent"/>), because a GPU
/// projects many images per pass about as fast as one. Jobs arrive from parallel queue consumers; the first one of
/// a group waits <see cref="Window"/> for company, or until <see cref="MaxBatch"/> images are waiting.
/// </summary>
public sealed class ProjectionBatcher
{
    public TimeSpan Window { get; init; } = TimeSpan.FromMilliseconds(500);
    public int MaxBatch { get; init; } = 8;

    /// <summary>One image's share of a batched projection (CPU tensors owned by the caller).</summary>
    public sealed record Share(Tensor Latent, Tensor Image, IReadOnlyList<Tensor> Noises, int BatchSize, IReadOnlyList<ProjectionStep> History);

    private sealed record Request(Tensor Target, long Seed, TaskCompletionSource<Share> Done, CancellationToken Cancellation);

    private sealed class Group
    {
        public readonly List<Request> Requests = [];
        public bool Closed;
    }

    // Only jobs with the same start (encoder or mean latent) can share one optimisation, so the encoder is part of the key.
    private readonly Dictionary<(Pipeline.Engine.StyleGan2.Generator, ProjectorOptions, StyleEncoder?), Group> _open = [];
    private readonly object _sync = new();

    /// <summary>
    /// Projects <paramref name="target"/> ([3,R,R] in [-1,1], CPU) with others that share generator and options.
    /// With <paramref name="encoder"/> the optimisation starts from its W+ prediction (options must be W+).
    /// </summary>
    public async Task<Share> ProjectAsync(Pipeline.Engine.StyleGan2.Generator g, ProjectorOptions options, IPerceptualLoss? perceptual, Tensor target, long seed, CancellationToken cancellationToken, StyleEncoder? encoder = null)
    {
        if (encoder is not null && !options.WPlus) throw new ArgumentException("an encoder start is a W+ latent: set WPlus", nameof(options));
        var request = new Request(target, seed, new TaskCompletionSource<Share>(TaskCreationOptions.RunContinuationsAsynchronously), cancellationToken);
        Group group;
        bool leader;
        lock (_sync)
        {
            var key = (g, options, encoder);
            leader = !_open.TryGetValue(key, out group!) || group.Closed;
            if (leader)
            {
                group = new Group();
                _open[key] = group;
            }
            group.Requests.Add(request);
            if (group.Requests.Count >= MaxBatch) group.Closed = true;
        }
        if (leader)
        {
            var deadline = DateTime.UtcNow + Window;
            try
            {
                while (DateTime.UtcNow < deadline)
                {
                    lock (_sync) if (group.Closed) break;
                    await Task.Delay(20, cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                // The leader's job was cancelled: the others in its group must still run, so close and start it anyway.
            }
            List<Request> batch;
            lock (_sync)
            {
                group.Closed = true;
                if (_open.TryGetValue((g, options, encoder), out var current) && current == group) _open.Remove((g, options, encoder));
                batch = group.Requests.Where(r => !r.Cancellation.IsCancellationRequested).ToList();
            }
            _ = Task.Run(() => Run(g, options, perceptual, encoder, batch), CancellationToken.None);
        }
        return await request.Done.Task.WaitAsync(cancellationToken);
    }

    private static void Run(Pipeline.Engine.StyleGan2.Generator g, ProjectorOptions options, IPerceptualLoss? perceptual, StyleEncoder? encoder, List<Request> batch)
    {
        if (batch.Count == 0) return;
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(batch.Select(r => r.Cancellation).ToArray());
            Tensor? targets = null;
            ProjectionResult result;
            lock (g) // one optimisation at a time per model: modules are not re-entrant
            {
                using var scope = NewDisposeScope();
                targets = stack(batch.Select(r => r.Target).ToArray(), 0).to(g.Device);
                var init = encoder is null ? null : ProjectionInits.Encode(encoder, targets);
                result = new Projector(g, options with { Coupling = ProjectionCoupling.Independent }, perceptual)
                    .Project(targets, init, new SeededDraws(batch.Select(r => r.Seed).ToList()), null, cts.Token);
                for (int i = 0; i < batch.Count; i++)
                {
                    var share = new Share(
                        result.Latent[i].detach().cpu().MoveToOuterDisposeScope(),
                        result.Image[i].detach().cpu().MoveToOuterDisposeScope(),
                        result.Noises.Select(n => n[i].detach().cpu().MoveToOuterDisposeScope()).ToList(),
                        batch.Count,
                        result.History);
                    batch[i].Done.TrySetResult(share);
                }
            }
        }
        catch (Exception e)
        {
            foreach (var r in batch) r.Done.TrySetException(e);
        }
    }
}
