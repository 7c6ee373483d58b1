namespace Pipeline.Functions.Services;

/// <summary>Queue names per job kind (configuration <c>Pipeline:Queues</c>; the bicep sets them as app settings).</summary>
public sealed record QueueNames
{
    /// <summary>Translation jobs (Council GAN, pix2pixHD).</summary>
    public string Translate { get; init; } = "jobs-translate";
    /// <summary>StyleGAN2 projection jobs.</summary>
    public string Project { get; init; } = "jobs-project";
    /// <summary>Augmentation (and metrics) batches.</summary>
    public string Augment { get; init; } = "jobs-augment";
}

/// <summary>How HTTP callers are authorized (configuration <c>Pipeline:Http</c>).</summary>
public sealed record HttpAuthOptions
{
    /// <summary>
    /// <c>Keys</c>: a function key in <c>x-functions-key</c> or <c>?code=</c> (local runs, tests);
    /// <c>EasyAuth</c>: App Service authentication has validated an Entra token and set X-MS-CLIENT-PRINCIPAL-ID (Azure).
    /// Anything else denies every call (fail closed).
    /// </summary>
    public string Auth { get; init; } = "";
    /// <summary>Accepted function keys in <c>Keys</c> mode.</summary>
    public IReadOnlyList<string> Keys { get; init; } = [];
}

/// <summary>Result links (configuration <c>Pipeline:Sas</c>).</summary>
public sealed record SasOptions
{
    /// <summary>Default lifetime of a results link.</summary>
    public TimeSpan DefaultLifetime { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>Longest lifetime a caller may ask for.</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromHours(1);
}

/// <summary>Scheduled augmentation (configuration <c>Pipeline:Augmentation</c>).</summary>
public sealed record AugmentationOptions
{
    /// <summary>The config blob listing the batches to enqueue per schedule slot.</summary>
    public string ConfigBlob { get; init; } = "datasets/augmentation-schedule.json";
}
