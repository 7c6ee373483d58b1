using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Pipeline.Worker.Jobs;

/// <summary>Traces and metrics of the worker (exported by OpenTelemetry when configured).</summary>
public static class WorkerTelemetry
{
    public const string Name = "Pipeline.Worker";
    public static readonly ActivitySource Source = new(Name);
    private static readonly Meter Meter = new(Name);

    public static readonly Histogram<double> JobDuration = Meter.CreateHistogram<double>("pipeline.job.duration", "s", "Wall time of one job attempt");
    public static readonly Histogram<double> QueueWait = Meter.CreateHistogram<double>("pipeline.job.queue_wait", "s", "Time from enqueue to the start of work");
    public static readonly Histogram<double> ImagesPerSecond = Meter.CreateHistogram<double>("pipeline.job.images_per_second", "{image}/s", "Generated or processed images per second");
    public static readonly Counter<long> Jobs = Meter.CreateCounter<long>("pipeline.jobs", "{job}", "Jobs by kind and outcome");
}
