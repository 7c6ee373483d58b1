using Azure.Identity;
using Azure.Storage.Blobs;
using Pipeline.Functions.Handlers;
using Pipeline.Functions.Host;
using Pipeline.Functions.Services;
using Pipeline.Infra;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Storage;
using Pipeline.Infra.Uploads;

namespace Pipeline.Functions;

/// <summary>Composition of the custom handler: configuration → services → one POST route per function folder.</summary>
public static class HandlerApp
{
    /// <summary>The function names (= folder names with a function.json = routes).</summary>
    public static readonly string[] Functions = ["ValidateUpload", "ScheduleAugmentation", "SubmitJob", "JobStatus", "JobResults", "Metrics", "Dashboard", "Gallery"];

    /// <summary>
    /// Builds the app. <paramref name="configure"/> runs before registration (configuration sources, TestServer);
    /// <paramref name="overrides"/> after it (tests swap queues or signers).
    /// </summary>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null, Action<IServiceCollection>? overrides = null)
    {
        var local = LocalOptions.Parse(ref args);
        var builder = WebApplication.CreateBuilder(args);
        // The host passes the port it chose; it only ever calls us on loopback.
        var port = Environment.GetEnvironmentVariable("FUNCTIONS_CUSTOMHANDLER_PORT") ?? Environment.GetEnvironmentVariable("FUNCTIONS_HTTPWORKER_PORT");
        if (!string.IsNullOrEmpty(port)) builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        if (local is not null)
        {
            builder.WebHost.UseUrls($"http://127.0.0.1:{local.Port}");
            builder.Configuration.AddInMemoryCollection(local.Settings());
        }
        configure?.Invoke(builder);
        builder.Services.AddPipelineFunctions(builder.Configuration);
        overrides?.Invoke(builder.Services);
        var app = builder.Build();
        Map(app);
        if (IsLocal(builder.Configuration))
        {
            LocalFrontDoor.Map(app, AppContext.BaseDirectory);
            if (local is not null) app.Lifetime.ApplicationStarted.Register(() => local.PrintWelcome(app));
        }
        return app;
    }

    /// <summary>Registers the handlers and what they need, from configuration section "Pipeline".</summary>
    public static IServiceCollection AddPipelineFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection("Pipeline");
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(section.GetSection("Uploads").Get<UploadValidationOptions>() ?? new UploadValidationOptions());
        services.AddSingleton(section.GetSection("Queues").Get<QueueNames>() ?? new QueueNames());
        services.AddSingleton(new HttpAuthOptions
        {
            Auth = section["Http:Auth"] ?? "",
            Keys = (section["Http:Keys"] ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        });
        services.AddSingleton(section.GetSection("Sas").Get<SasOptions>() ?? new SasOptions());
        services.AddSingleton(section.GetSection("Augmentation").Get<AugmentationOptions>() ?? new AugmentationOptions());
        services.AddSingleton(InfraFactory.CreateJobIdOptions(name => configuration[name.Replace("__", ":", StringComparison.Ordinal)]));

        AddStorage(services, configuration);
        services.AddSingleton<Func<string, IJobQueue>>(_ => QueueFactory(configuration));
        services.AddSingleton(sp => new JobQueueProvider(sp.GetRequiredService<QueueNames>(), sp.GetRequiredService<Func<string, IJobQueue>>()));
        services.AddSingleton<IJobQueueProvider>(sp => sp.GetRequiredService<JobQueueProvider>());

        // Face check for selfie jobs: on unless Pipeline:Uploads:FaceDetection=off; needs the Haar cascade file.
        var faceDetection = section["Uploads:FaceDetection"];
        var faces = string.Equals(faceDetection, "off", StringComparison.OrdinalIgnoreCase) ? null : FaceChecks.TryCreate(section["Uploads:FaceCascadePath"]);
        services.AddSingleton(sp => new UploadValidator(sp.GetRequiredService<UploadValidationOptions>(), faces, sp.GetRequiredService<JobIdOptions>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new JobPublisher(sp.GetRequiredService<IBlobStore>(), sp.GetRequiredService<IJobQueueProvider>().For, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<HttpAuth>();
        services.AddSingleton<ValidateUploadHandler>();
        services.AddSingleton<ScheduleAugmentationHandler>();
        services.AddSingleton<ApiHandlers>();
        services.AddSingleton<DashboardHandlers>();
        services.AddSingleton<GalleryHandlers>();
        return services;
    }

    // Storage and queues follow infra's InfraFactory (Pipeline__Storage__*, Pipeline__Queue__*), shared with the worker;
    // only the queue name differs per job kind here.
    private static void AddStorage(IServiceCollection services, IConfiguration configuration)
    {
        string? Setting(string name) => configuration[name.Replace("__", ":", StringComparison.Ordinal)];
        var store = InfraFactory.CreateBlobStore(Setting, Path.Combine(".pipeline", "data"));
        services.AddSingleton(store);
        var connectionString = Setting(InfraFactory.StorageConnectionString);
        var serviceUri = Setting(InfraFactory.StorageServiceUri);
        var prefix = Setting(InfraFactory.StorageContainerPrefix) ?? "";
        if (store is FileSystemBlobStore && IsLocal(configuration))
        {
            services.AddSingleton<ILinkSigner, LocalLinkSigner>();
        }
        else if (store is FileSystemBlobStore)
        {
            services.AddSingleton<ILinkSigner, NoLinkSigner>();
        }
        else if (!string.IsNullOrEmpty(connectionString))
        {
            // Local emulator (Azurite): account-key SAS is acceptable only there, and EmulatorLinkSigner enforces that.
            var service = new BlobServiceClient(connectionString, new BlobClientOptions(BlobClientOptions.ServiceVersion.V2026_06_06));
            services.AddSingleton<ILinkSigner>(sp => new EmulatorLinkSigner(service, sp.GetRequiredService<TimeProvider>(), prefix));
        }
        else
        {
            var clientId = Setting(InfraFactory.StorageManagedIdentityClientId) ?? Environment.GetEnvironmentVariable("AZURE_CLIENT_ID");
            var credential = new DefaultAzureCredential(new DefaultAzureCredentialOptions { ManagedIdentityClientId = clientId });
            var service = new BlobServiceClient(new Uri(serviceUri!), credential);
            services.AddSingleton<ILinkSigner>(sp => new UserDelegationLinkSigner(service, sp.GetRequiredService<TimeProvider>(), prefix));
        }
    }

    private static bool IsLocal(IConfiguration configuration) => string.Equals(configuration["Pipeline:LocalFrontDoor"], "true", StringComparison.OrdinalIgnoreCase);

    private static Func<string, IJobQueue> QueueFactory(IConfiguration configuration)
    {
        string? Setting(string name) => configuration[name.Replace("__", ":", StringComparison.Ordinal)];
        // In-process queues are owned here (one per name), not shared process-wide.
        return name =>
        {
            string? PerQueue(string key) => key == InfraFactory.ServiceBusQueueName ? name : Setting(key);
            var kind = Setting(InfraFactory.QueueKind);
            bool local = string.Equals(kind, "inprocess", StringComparison.OrdinalIgnoreCase)
                || (string.IsNullOrEmpty(kind) && string.IsNullOrEmpty(Setting(InfraFactory.ServiceBusNamespace)) && string.IsNullOrEmpty(Setting(InfraFactory.ServiceBusConnectionString)));
            return local ? new InProcessJobQueue(name) : InfraFactory.CreateJobQueue(PerQueue);
        };
    }

    private static void Map(WebApplication app)
    {
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));
        MapFunction<ValidateUploadHandler>(app, "ValidateUpload", (h, i, ct) => h.HandleAsync(i, ct));
        MapFunction<ScheduleAugmentationHandler>(app, "ScheduleAugmentation", (h, i, ct) => h.HandleAsync(i, ct));
        MapFunction<ApiHandlers>(app, "SubmitJob", (h, i, ct) => h.SubmitAsync(i, ct));
        MapFunction<ApiHandlers>(app, "JobStatus", (h, i, ct) => h.StatusAsync(i, ct));
        MapFunction<ApiHandlers>(app, "JobResults", (h, i, ct) => h.ResultsAsync(i, ct));
        MapFunction<DashboardHandlers>(app, "Metrics", (h, i, ct) => h.MetricsAsync(i, ct));
        MapFunction<DashboardHandlers>(app, "Dashboard", (h, i, ct) => h.DashboardAsync(i, ct));
        MapFunction<GalleryHandlers>(app, "Gallery", (h, i, ct) => h.HandleAsync(i, ct));
    }

    private static void MapFunction<THandler>(WebApplication app, string name, Func<THandler, Invocation, CancellationToken, Task<IResult>> run)
        where THandler : notnull
    {
        app.MapPost("/" + name, async (HttpContext ctx, THandler handler) =>
        {
            Invocation invocation;
            try
            {
                invocation = await Invocation.ReadAsync(ctx.Request, ctx.RequestAborted);
                return await run(handler, invocation, ctx.RequestAborted);
            }
            catch (InvalidInvocationException ex)
            {
                var bad = new InvocationResult();
                bad.Logs.Add($"{name}: invalid invocation: {ex.Message}");
                bad.ReturnValue = new { error = ex.Message };
                return bad.ToResult(StatusCodes.Status400BadRequest);
            }
        });
    }
}
