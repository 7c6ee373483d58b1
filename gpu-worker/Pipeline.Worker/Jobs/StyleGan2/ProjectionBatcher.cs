using System.Runtime.CompilerServices;
using Pipeline.Engine;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using static TorchSharp.torch;

namespace Pipeline.Worker.Jobs.StyleGan2;

/// <summary>
/// Batches projection jobs that run at the same time on the same model and settings into one optimisation
/// (each image keeps its own latent, noise and seed; <see cref="ProjectionCoupling.Independent"/>), because a GPU
/// projects many images per pass about as fast as one. Jobs arrive from parallel queue consumers; the first one of
/// a group waits <see cref="Window"/> for company, or until the group is full.
/// A group holds at most the smallest of <see cref="MaxBatch"/>, each member job's own batch limit (the runner halves
/// it after an out-of-memory error) and the limit this batcher learned for the generator: a batch that runs out of
/// memory halves that limit, and it stays halved for as long as the model stays loaded (the memory a projection needs
/// depends on the model and resolution, which do not change; a model the cache reloads starts again at MaxBatch).
/// A cancelled job leaves its batch alone: <see cref="ProjectionBatchRun"/> drops only its row.
/// </summary>
public sealed class ProjectionBatcher
{
    public TimeSpan Window { get; init; } = TimeSpan.FromMilliseconds(500);
    public int MaxBatch { get; init; } = 8;

    /// <summary>The optimisation of one batch; tests swap it to inject failures such as out-of-memory errors.</summary>
    internal Func<Projector, Tensor, Tensor?, IProjectorDraws, IProgress<ProjectionProgress>, CancellationToken, ProjectionResult> Project { get; init; } =
        (projector, targets, initial, draws, progress, ct) => projector.Project(targets, initial, draws, progress, ct);

    /// <summary>One image's share of a batched projection (CPU tensors owned by the caller).</summary>
    public sealed record Share(Tensor Latent, Tensor Image, IReadOnlyList<Tensor> Noises, int BatchSize, IReadOnlyList<ProjectionStep> History);

    /// <summary>One job's row. A class, not a record: rows are found by identity, and a record would compare the tensors' values.</summary>
    internal sealed class Request(Tensor target, long seed, TaskCompletionSource<Share> done, CancellationToken cancellation)
    {
        public Tensor Target { get; } = target;
        public long Seed { get; } = seed;
        public TaskCompletionSource<Share> Done { get; } = done;
        public CancellationToken Cancellation { get; } = cancellation;
    }

    private sealed class Group(int capacity)
    {
        public readonly List<Request> Requests = [];
        public int Capacity = capacity;
        public bool Closed;
    }

    // Only jobs with the same start (encoder or mean latent) can share one optimisation, so the encoder is part of the key.
    private readonly Dictionary<(Pipeline.Engine.StyleGan2.Generator, ProjectorOptions, StyleEncoder?), Group> _open = [];
    private readonly ConditionalWeakTable<Pipeline.Engine.StyleGan2.Generator, StrongBox<int>> _learned = [];
    private readonly object _sync = new();

    /// <summary>The largest batch this batcher will form for <paramref name="g"/> now (MaxBatch until an out-of-memory error).</summary>
    public int LimitFor(Pipeline.Engine.StyleGan2.Generator g)
    {
        lock (_sync) return _learned.TryGetValue(g, out var l) ? Math.Min(l.Value, MaxBatch) : MaxBatch;
    }

    /// <summary>After an out-of-memory error in a batch of <paramref name="batch"/>: later batches of this generator get half.</summary>
    internal void ShrinkAfterOutOfMemory(Pipeline.Engine.StyleGan2.Generator g, int batch)
    {
        lock (_sync)
        {
            var box = _learned.GetValue(g, _ => new StrongBox<int>(MaxBatch));
            box.Value = Math.Max(1, Math.Min(box.Value, batch / 2));
        }
    }

    /// <summary>
    /// Projects <paramref name="target"/> ([3,R,R] in [-1,1], CPU) with others that share generator and options, in
    /// a batch of at most <paramref name="maxBatch"/> (the job's limit). Completes only once the batch no longer
    /// uses the generator for this job, so the job's model lease covers the work done for it.
    /// With <paramref name="encoder"/> the optimisation starts from its W+ prediction (options must be W+).
    /// </summary>
    public async Task<Share> ProjectAsync(Pipeline.Engine.StyleGan2.Generator g, ProjectorOptions options, IPerceptualLoss? perceptual, Tensor target, long seed, int maxBatch, CancellationToken cancellationToken, StyleEncoder? encoder = null)
    {
        if (encoder is not null && !options.WPlus) throw new ArgumentException("an encoder start is a W+ latent: set WPlus", nameof(options));
        var request = new Request(target, seed, new TaskCompletionSource<Share>(TaskCreationOptions.RunContinuationsAsynchronously), cancellationToken);
        var key = (g, options, encoder);
        Group group;
        bool leader;
        lock (_sync)
        {
            int limit = Math.Max(1, Math.Min(maxBatch, LimitFor(g)));
            leader = !_open.TryGetValue(key, out group!) || group.Closed || group.Requests.Count >= limit;
            if (leader)
            {
                // An open group that is already too big for this job goes ahead as it is; this job starts the next one.
                if (group is not null) group.Closed = true;
                group = new Group(limit);
                _open[key] = group;
            }
            group.Capacity = Math.Min(group.Capacity, limit);
            group.Requests.Add(request);
            if (group.Requests.Count >= group.Capacity) group.Closed = true;
        }
        if (leader)
        {
            await WaitForCompanyAsync(group, cancellationToken);
            List<Request> batch;
            lock (_sync)
            {
                group.Closed = true;
                if (_open.TryGetValue(key, out var current) && current == group) _open.Remove(key);
                batch = [.. group.Requests];
            }
            var run = new ProjectionBatchRun(this, g, options, perceptual, encoder, batch);
            _ = Task.Run(run.Run, CancellationToken.None);
        }
        return await request.Done.Task;
    }

    private async Task WaitForCompanyAsync(Group group, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Window;
        try
        {
            while (DateTime.UtcNow < deadline)
            {
                lock (_sync) if (group.Closed) return;
                await Task.Delay(20, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            // The leader's job was cancelled: the others in its group must still run, so close and start it anyway.
        }
    }
}
