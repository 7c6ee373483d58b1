namespace Pipeline.Infra.Contracts;

/// <summary>
/// The bounds a job must respect, in one place: the functions refuse a request beyond them before it is queued and the
/// worker refuses a message beyond them (a message can come from anywhere that can send to the queue).
/// </summary>
public static class JobLimits
{
    /// <summary>Most optimisation steps of one projection job (projector.py runs 1000; more rarely helps).</summary>
    public const int MaxProjectionSteps = 5000;

    /// <summary>Most images of one augmentation batch, StyleGAN v1 and v2 alike; larger datasets are several batches.</summary>
    public const int MaxAugmentationCount = 10_000;

    /// <summary>Null when <paramref name="steps"/> is allowed, else why not.</summary>
    public static string? CheckProjectionSteps(int steps) =>
        steps is < 1 or > MaxProjectionSteps ? $"steps must be in 1..{MaxProjectionSteps}, not {steps}" : null;

    /// <summary>Null when <paramref name="count"/> is allowed, else why not.</summary>
    public static string? CheckAugmentationCount(int count) =>
        count is < 1 or > MaxAugmentationCount ? $"count must be in 1..{MaxAugmentationCount}, not {count}" : null;
}
