using Pipeline.Engine;
using Pipeline.Engine.StyleGan2;
using Pipeline.Engine.StyleGan2.Encoder;
using static TorchSharp.torch;
using Generator = Pipeline.Engine.StyleGan2.Generator;
using Pipeline.Worker.Operations.Projection;
using Request = Pipeline.Worker.Jobs.StyleGan2.ProjectionBatcher.Request;

namespace Pipeline.Worker.Jobs.StyleGan2;

/// <summary>
/// One batched optimisation of <see cref="ProjectionBatcher"/>. A job cancelled while its batch waits or runs gets
/// its cancellation at the next step and the other rows go on (its row is still computed, since the rows are
/// independent, and thrown away); only when every row is cancelled does the optimisation stop.
/// Each job's task completes only when the batch no longer needs the generator for it, and the last one only after
/// the batch has stopped touching it: the jobs' model leases are what keep the cache from disposing the generator.
/// </summary>
internal sealed class ProjectionBatchRun(ProjectionBatcher batcher, Generator g, ProjectorOptions options, IPerceptualLoss? perceptual, StyleEncoder? encoder, List<Request> batch)
{
    private static readonly TimeSpan LockPoll = TimeSpan.FromMilliseconds(50);
    private readonly List<Request> _waiting = [.. batch]; // rows whose job still waits for a result

    public void Run()
    {
        using var stop = new CancellationTokenSource(); // cancelled when no row is left to compute for
        if (!DropCancelled(stop)) return;
        bool locked = false;
        try
        {
            // one optimisation at a time per model (modules are not re-entrant); keep answering cancellations while waiting
            while (!(locked = Monitor.TryEnter(g, LockPoll)))
                if (!DropCancelled(stop)) return;
            if (!DropCancelled(stop)) return;
            Optimise(stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // every job of the batch was cancelled; they are answered below, once the generator is no longer in use
        }
        catch (Exception e)
        {
            if (JobRunner.IsOutOfMemory(e)) batcher.ShrinkAfterOutOfMemory(g, batch.Count);
            foreach (var r in _waiting) r.Done.TrySetException(e);
            _waiting.Clear();
        }
        finally
        {
            if (locked) Monitor.Exit(g);
            foreach (var r in _waiting) r.Done.TrySetCanceled(r.Cancellation);
        }
    }

    /// <summary>
    /// Answers cancelled jobs while at least one other row still needs the batch (its job's lease keeps the model);
    /// when none would be left, stops the batch instead and leaves the answers to the end of <see cref="Run"/>.
    /// False when nothing is left to compute.
    /// </summary>
    private bool DropCancelled(CancellationTokenSource stop)
    {
        var cancelled = _waiting.Where(r => r.Cancellation.IsCancellationRequested).ToList();
        if (cancelled.Count == _waiting.Count)
        {
            stop.Cancel();
            return false;
        }
        foreach (var r in cancelled)
        {
            _waiting.Remove(r);
            r.Done.TrySetCanceled(r.Cancellation);
        }
        return true;
    }

    private void Optimise(CancellationTokenSource stop)
    {
        using var scope = NewDisposeScope();
        // Only rows still waiting are stacked: a job answered as cancelled may already have freed its target.
        var rows = _waiting.ToList();
        using var draws = new SeededProjectorDraws(rows.Select(r => r.Seed).ToList());
        var targets = stack(rows.Select(r => r.Target).ToArray(), 0).to(g.Device);
        var projector = new Projector(g, options with { Coupling = ProjectionCoupling.Independent }, perceptual);
        // The encoder's W+ start is computed under the generator's lock too: one encoder serves one model's jobs.
        Tensor? initial = null;
        if (encoder is not null) lock (encoder) initial = ProjectionInits.Encode(encoder, targets);
        var result = batcher.Project(projector, targets, initial, draws, new StepCheck(() => DropCancelled(stop)), stop.Token);
        if (stop.IsCancellationRequested) return; // everyone left during the last step
        for (int i = 0; i < rows.Count; i++)
        {
            if (!_waiting.Contains(rows[i])) continue; // cancelled during the optimisation: its row is discarded
            var share = new ProjectionBatcher.Share(
                result.Latent[i].detach().cpu().MoveToOuterDisposeScope(),
                result.Image[i].detach().cpu().MoveToOuterDisposeScope(),
                result.Noises.Select(n => n[i].detach().cpu().MoveToOuterDisposeScope()).ToList(),
                rows.Count,
                result.History);
            rows[i].Done.TrySetResult(share);
            _waiting.Remove(rows[i]);
        }
    }

    /// <summary>Runs at every finished step, on the optimising thread.</summary>
    private sealed class StepCheck(Action check) : IProgress<ProjectionProgress>
    {
        public void Report(ProjectionProgress value) => check();
    }
}
