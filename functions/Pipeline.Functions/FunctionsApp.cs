using System.Reflection;
using Azure.Identity;
using Azure.Monitor.OpenTelemetry.Exporter;
using Azure.Storage.Blobs;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using Pipeline.Functions.Services;
using Pipeline.Infra;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Infra.Uploads;

namespace Pipeline.Functions;

/// <summary>
/// Composition of the isolated worker: configuration → options → services → the function classes. Program.cs, the
/// `--local` host, `pipeline demo` and the tests all register through <see cref="AddPipelineFunctions"/>.
/// </summary>
public static class FunctionsApp
{
    /// <summary>The function classes (each method with [Function] is one function).</summary>
    public static readonly Type[] FunctionClasses = [typeof(ValidateUpload), typeof(ScheduleAugmentation), typeof(JobApi), typeof(DashboardApi), typeof(GalleryApi)];

    /// <summary>Every function: name → method, from the [Function] attributes (the same ones the SDK's generator reads).</summary>
    public static IReadOnlyDictionary<string, MethodInfo> Functions { get; } = FunctionClasses
        .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance))
        .Select(m => (Method: m, Attribute: m.GetCustomAttribute<FunctionAttribute>()))
        .Where(x => x.Attribute is not null)
        .ToDictionary(x => x.Attribute!.Name, x => x.Method, StringComparer.Ordinal);

    /// <summary>
    /// The worker as Program.cs builds it: Functions application builder with ASP.NET Core integration, then
    /// <see cref="AddPipelineFunctions"/>. <paramref name="configure"/> adds configuration sources (tests), and
    /// <paramref name="overrides"/> replaces services after registration (tests swap queues or signers).
    /// </summary>
    public static FunctionsApplicationBuilder CreateBuilder(string[] args, Action<IConfigurationBuilder>? configure = null, Action<IServiceCollection>? overrides = null)
    {
        var builder = FunctionsApplication.CreateBuilder(args);
        builder.ConfigureFunctionsWebApplication();
        configure?.Invoke(builder.Configuration);
        builder.Services.AddPipelineFunctions(builder.Configuration);
        AddTelemetry(builder.Services, builder.Configuration);
        overrides?.Invoke(builder.Services);
        return builder;
    }

    /// <summary>Registers options (bound once from configuration section "Pipeline"), storage, queues and the function classes.</summary>
    public static IServiceCollection AddPipelineFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        services.TryAddSingletonTimeProvider();
        services.AddOptions<UploadValidationOptions>().Bind(configuration.GetSection(FaceCheckOptions.Section)); // Pipeline:Uploads
        services.AddOptions<FaceCheckOptions>().Bind(configuration.GetSection(FaceCheckOptions.Section));
        services.AddOptions<QueueNames>().Bind(configuration.GetSection(QueueNames.Section));
        services.AddOptions<HttpAuthOptions>().Bind(configuration.GetSection(HttpAuthOptions.Section));
        services.AddOptions<SasOptions>().Bind(configuration.GetSection(SasOptions.Section));
        services.AddOptions<AugmentationOptions>().Bind(configuration.GetSection(AugmentationOptions.Section));
        services.AddOptions<StorageSettings>().Bind(configuration.GetSection(StorageSettings.Section));
        services.AddOptions<QueueSettings>().Bind(configuration.GetSection(QueueSettings.Section));
        services.AddOptions<PipelineSettings>().Bind(configuration.GetSection(PipelineSettings.Section));
        services.AddSingleton(sp => new InfraSettings(
            sp.GetRequiredService<IOptions<StorageSettings>>().Value,
            sp.GetRequiredService<IOptions<QueueSettings>>().Value,
            sp.GetRequiredService<IOptions<PipelineSettings>>().Value.JobIdKey));
        services.AddSingleton(sp => InfraFactory.CreateJobIdOptions(sp.GetRequiredService<InfraSettings>().For()));

        // Storage and queues follow infra's InfraFactory (shared with the worker); only the queue name differs per job kind.
        services.AddSingleton(sp => InfraFactory.CreateBlobStore(sp.GetRequiredService<InfraSettings>().For(), Path.Combine(".pipeline", "data")));
        services.AddSingleton(sp => LinkSignerFor(sp, configuration["AZURE_CLIENT_ID"]));
        services.AddSingleton(sp => QueueFactory(sp.GetRequiredService<InfraSettings>()));
        services.AddSingleton(sp => new JobQueueProvider(sp.GetRequiredService<IOptions<QueueNames>>().Value, sp.GetRequiredService<Func<string, IJobQueue>>()));
        services.AddSingleton<IJobQueueProvider>(sp => sp.GetRequiredService<JobQueueProvider>());

        // Face check for selfie jobs: on unless Pipeline:Uploads:FaceDetection=off; needs the Haar cascade file.
        services.AddSingleton(sp =>
        {
            var faces = sp.GetRequiredService<IOptions<FaceCheckOptions>>().Value;
            return new UploadValidator(sp.GetRequiredService<IOptions<UploadValidationOptions>>().Value,
                faces.Enabled ? FaceChecks.TryCreate(faces.FaceCascadePath) : null, sp.GetRequiredService<JobIdOptions>(), sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(sp => new JobPublisher(sp.GetRequiredService<IBlobStore>(), sp.GetRequiredService<IJobQueueProvider>().For, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<HttpAuth>();
        // One ETag cache per process: the gallery and dashboard read their indexes through it (conditional GETs).
        services.AddSingleton(sp => new CachedBlobReader(sp.GetRequiredService<IBlobStore>()));
        // The worker activates function classes itself (with this container); registering them lets the local host,
        // the demo and the tests resolve exactly the same instances' dependencies.
        foreach (var type in FunctionClasses) services.AddTransient(type);

        // Request lines carry ?code= keys: ASP.NET Core's request logging stays off (warnings and errors only).
        services.AddLogging(l => l.AddFilter("Microsoft.AspNetCore", LogLevel.Warning));
        return services;
    }

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider))) services.AddSingleton(TimeProvider.System);
    }

    /// <summary>
    /// OpenTelemetry through the worker's package (Functions resource and invocation correlation), exported to Azure
    /// Monitor when APPLICATIONINSIGHTS_CONNECTION_STRING is set, with the app's managed identity (App Insights local
    /// auth is off in the bicep).
    /// </summary>
    internal static void AddTelemetry(IServiceCollection services, IConfiguration configuration)
    {
        var connectionString = configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"];
        if (string.IsNullOrWhiteSpace(connectionString)) return;
        var clientId = configuration["AZURE_CLIENT_ID"];
        services.AddOpenTelemetry()
            .UseFunctionsWorkerDefaults()
            .UseAzureMonitorExporter(o =>
            {
                o.ConnectionString = connectionString;
                if (!string.IsNullOrWhiteSpace(clientId)) o.Credential = new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
            });
    }

    private static ILinkSigner LinkSignerFor(IServiceProvider sp, string? azureClientId)
    {
        var store = sp.GetRequiredService<IBlobStore>();
        var storage = sp.GetRequiredService<IOptions<StorageSettings>>().Value;
        var time = sp.GetRequiredService<TimeProvider>();
        var prefix = storage.ContainerPrefix ?? "";
        if (store is FileSystemBlobStore) return new NoLinkSigner();
        if (!string.IsNullOrEmpty(storage.ConnectionString))
        {
            // Local emulator (Azurite): account-key SAS is acceptable only there, and EmulatorLinkSigner enforces that.
            var service = new BlobServiceClient(storage.ConnectionString, new BlobClientOptions(BlobClientOptions.ServiceVersion.V2026_06_06));
            return new EmulatorLinkSigner(service, time, prefix);
        }
        var clientId = storage.ManagedIdentityClientId ?? azureClientId;
        var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId });
        return new UserDelegationLinkSigner(new BlobServiceClient(new Uri(storage.ServiceUri!), credential), time, prefix);
    }

    // In-process queues are owned here (one per name), not shared process-wide with other hosts in the process.
    private static Func<string, IJobQueue> QueueFactory(InfraSettings settings) =>
        name => settings.Queue.IsInProcess ? new InProcessJobQueue(name) : InfraFactory.CreateJobQueue(settings.For(name));
}
