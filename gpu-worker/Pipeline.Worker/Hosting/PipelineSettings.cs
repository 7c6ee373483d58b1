namespace Pipeline.Worker.Hosting;

/// <summary>
/// Worker settings, bound from configuration section "Pipeline" (environment variables Pipeline__MaxBatch, ...).
/// Storage and queue are chosen by <see cref="Pipeline.Infra.InfraFactory"/> from Pipeline__Storage__* and
/// Pipeline__Queue__* (local folder and in-process queue when none are set); docs/infra.md lists them.
/// </summary>
public sealed record PipelineSettings
{
    /// <summary>Local folder for downloaded, sha256-verified models.</summary>
    public string ModelCache { get; init; } = Path.Combine(Path.GetTempPath(), "pipeline-models");
    /// <summary>
    /// Loaded models kept warm, in MiB of parameters and buffers: past it the least recently used idle models are
    /// disposed (a model a job is using never is).
    /// </summary>
    public int ModelMemoryBudgetMiB { get; init; } = (int)(Jobs.ModelCache.DefaultMemoryBudgetBytes >> 20);
    /// <summary>Largest batch per forward pass (halved automatically after CUDA out-of-memory).</summary>
    public int MaxBatch { get; init; } = 16;
    /// <summary>Jobs handled at once; above 1, concurrent projection jobs of one model share a batch.</summary>
    public int Concurrency { get; init; } = 2;
    /// <summary>"cpu", "cuda" or "auto" (CUDA when available).</summary>
    public string Device { get; init; } = "auto";
    /// <summary>The queue's max delivery count, so the last attempt marks the job failed (Bicep passes its value; default <see cref="Pipeline.Infra.Queue.QueueDefaults.MaxDeliveryCount"/>).</summary>
    public int MaxDeliveryCount { get; init; } = Pipeline.Infra.Queue.QueueDefaults.MaxDeliveryCount;
    /// <summary>How long the worker keeps a job's message locked (renewing it) while the job runs: longer than the longest GPU job.</summary>
    public TimeSpan MaxJobDuration { get; init; } = Pipeline.Infra.Queue.QueueDefaults.MaxAutoLockRenewalDuration;
    /// <summary>Local folder of the embedded file-system store when Pipeline__Storage__Root is not set.</summary>
    public string DefaultLocalRoot { get; init; } = ".pipeline/data";
    /// <summary>Face detection and alignment for selfie and projection inputs.</summary>
    public FaceSettings Faces { get; init; } = new();
}

/// <summary>Pipeline__Faces__*: the Haar cascade (Debian opencv-data) and the optional dlib landmark model (never bundled; see docs/imaging.md).</summary>
public sealed record FaceSettings
{
    public string? CascadePath { get; init; }
    public string? ShapePredictorPath { get; init; }
    public int OutputSize { get; init; } = 256;
}
