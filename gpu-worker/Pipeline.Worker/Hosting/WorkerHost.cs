using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Azure.Monitor.OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Pipeline.Infra;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Operations.Inputs;

namespace Pipeline.Worker.Hosting;

/// <summary>The worker's composition root: engine handlers + infra storage and queue + telemetry.</summary>
public static class WorkerHost
{
    /// <param name="queue">
    /// The queue to read instead of the one the settings describe: `pipeline demo` hands over the in-process queue its
    /// upload function writes to (one process, one queue object; no process-wide registry of queues).
    /// </param>
    public static HostApplicationBuilder CreateBuilder(string[] args, PipelineSettings? overrideSettings = null, IJobQueue? queue = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, DisableDefaults = false });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        var settings = overrideSettings ?? BindSettings(builder.Configuration);
        var device = PipelineServices.ResolveDevice(settings.Device);
        builder.Services.AddPipelineCore(builder.Configuration, settings);
        string? Setting(string name) => builder.Configuration[name.Replace("__", ":", StringComparison.Ordinal)];
        if (queue is not null) builder.Services.AddSingleton(queue); // the caller owns (and disposes) it
        else builder.Services.AddSingleton<IJobQueue>(_ => InfraFactory.CreateJobQueue(Setting, new QueueEntityOptions { MaxDeliveryCount = settings.MaxDeliveryCount }));
        builder.Services.AddSingleton(sp => new ModelCache(sp.GetRequiredService<IBlobStore>(), settings.ModelCache, (long)settings.ModelMemoryBudgetMiB << 20));
        builder.Services.AddSingleton(new JobRunnerOptions { MaxBatch = settings.MaxBatch, MaxDeliveryCount = settings.MaxDeliveryCount, Device = device, ReleaseMathBuffersWhenIdle = true });
        builder.Services.AddSingleton(new JobQueueProcessorOptions { MaxConcurrentCalls = Math.Max(1, settings.Concurrency), MaxAutoLockRenewalDuration = settings.MaxJobDuration });
        builder.Services.AddSingleton(new HeartbeatFile(Path.Combine(Path.GetTempPath(), "pipeline-worker.alive")));
        builder.Services.AddSingleton<JobRunner>();
        builder.Services.AddSingleton<Jobs.Shared.PerceptualLossProvider>();
        builder.Services.AddSingleton(new Jobs.StyleGan2.ProjectionBatcher { MaxBatch = settings.MaxBatch });
        builder.Services.AddJobHandlers(device);
        builder.Services.AddHostedService<WorkerService>();
        AddTelemetry(builder);
        return builder;
    }

    /// <summary>Settings from configuration section "Pipeline" (environment variables Pipeline__*): the one binding of worker and CLI.</summary>
    public static PipelineSettings BindSettings(IConfiguration configuration) =>
        configuration.GetSection("Pipeline").Get<PipelineSettings>() ?? new PipelineSettings();

    /// <summary>
    /// What the worker and the CLI share: the settings, the blob store they describe (Pipeline__Storage__*) and face
    /// preparation (Pipeline__Faces__*).
    /// </summary>
    public static IServiceCollection AddPipelineCore(this IServiceCollection services, IConfiguration configuration, PipelineSettings settings)
    {
        services.AddSingleton(settings);
        string? Setting(string name) => configuration[name.Replace("__", ":", StringComparison.Ordinal)];
        services.AddSingleton<IBlobStore>(_ => InfraFactory.CreateBlobStore(Setting, settings.DefaultLocalRoot));
        services.AddSingleton<FacePreparation>();
        return services;
    }

    /// <summary>
    /// The CLI's composition: the worker's configuration sources (environment, appsettings.json, command line) and
    /// <see cref="AddPipelineCore"/>, without queue, handlers or the worker loop. Nothing runs until a service is asked for.
    /// </summary>
    public static IHost CreateCliHost(params string[] args)
    {
        // No file watcher on the working folder for a short-lived command.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = ["--hostBuilder:reloadConfigOnChange=false", .. args], DisableDefaults = false });
        builder.Services.AddPipelineCore(builder.Configuration, BindSettings(builder.Configuration));
        return builder.Build();
    }

    /// <summary>Registers every <see cref="IJobHandler"/> of this assembly (constructor-injected).</summary>
    public static IServiceCollection AddJobHandlers(this IServiceCollection services, string device)
    {
        services.AddSingleton(new EngineDevice(device));
        // Feature-network weights (Inception, VGG16, LPIPS heads) from one place: $PIPELINE_MODELS or the user cache.
        services.TryAddSingleton(_ => FeatureNetworkLocation.Store());
        // One metric registry per host (the metrics and translation handlers share it), not a process-wide static.
        services.TryAddSingleton(_ => Pipeline.Engine.Metrics.Records.MetricRegistry.CreateDefault());
        foreach (var t in typeof(IJobHandler).Assembly.GetTypes().Where(t => t is { IsAbstract: false, IsInterface: false } && typeof(IJobHandler).IsAssignableFrom(t) && t.IsPublic))
            services.AddSingleton(typeof(IJobHandler), t);
        return services;
    }

    private static void AddTelemetry(HostApplicationBuilder builder)
    {
        var otlp = builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        var appInsights = builder.Configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"];
        var console = builder.Configuration["Pipeline:Telemetry:Console"] is "true" or "True";
        if (otlp is null && appInsights is null && !console) return;
        // The Service Bus SDK's spans (receive, settle, lock renewal) through ActivitySource, beside the worker's own.
        AppContext.SetSwitch("Azure.Experimental.EnableActivitySource", true);
        builder.Services.AddOpenTelemetry()
            .WithTracing(t =>
            {
                t.AddSource(WorkerTelemetry.Name);
                t.AddSource("Azure.Messaging.ServiceBus.*");
                if (otlp is not null) t.AddOtlpExporter();
                if (appInsights is not null) t.AddAzureMonitorTraceExporter(o => o.ConnectionString = appInsights);
                if (console) t.AddConsoleExporter();
            })
            .WithMetrics(m =>
            {
                m.AddMeter(WorkerTelemetry.Name);
                if (otlp is not null) m.AddOtlpExporter();
                if (appInsights is not null) m.AddAzureMonitorMetricExporter(o => o.ConnectionString = appInsights);
                if (console) m.AddConsoleExporter();
            });
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
    }
}

/// <summary>The torch device handlers run on ("cpu" or "cuda").</summary>
public sealed record EngineDevice(string Name);
