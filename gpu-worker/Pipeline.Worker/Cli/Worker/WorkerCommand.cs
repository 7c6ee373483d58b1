using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Pipeline.Worker.Hosting;

namespace Pipeline.Worker.Cli.Worker;

/// <summary>`pipeline worker`: the GPU worker process (the container's entrypoint).</summary>
public sealed class WorkerCommand : ICliCommand
{
    public Command Build()
    {
        var telemetry = new Option<string>("--telemetry") { Description = "Exporter when neither OTEL_EXPORTER_OTLP_ENDPOINT nor APPLICATIONINSIGHTS_CONNECTION_STRING is set: console or none.", DefaultValueFactory = _ => "console" };
        var cmd = new Command("worker", "Run the job worker: receive jobs (peek-lock), run them on the engine, write results, status and metrics. " +
                                        "Configure with environment variables Pipeline__Storage__Kind=local|azure, Pipeline__Storage__Root / __ServiceUri, " +
                                        "Pipeline__Queue__Kind=inprocess|servicebus, Pipeline__Queue__FullyQualifiedNamespace, Pipeline__Queue__QueueName, Pipeline__Device=auto|cpu|cuda.")
        {
            telemetry,
        };
        cmd.SetAction(async (parse, ct) =>
        {
            var args = new List<string>();
            if (parse.GetValue(telemetry) == "console") args.Add("--Pipeline:Telemetry:Console=true");
            using var host = WorkerHost.CreateBuilder([.. args]).Build();
            await host.RunAsync(ct);
            return 0;
        });
        return cmd;
    }
}

/// <summary>`pipeline health`: exit 0 when the worker loop beat recently (container health probe).</summary>
public sealed class HealthCommand : ICliCommand
{
    public Command Build()
    {
        var maxAge = new Option<int>("--max-age-seconds") { DefaultValueFactory = _ => 120, Description = "Oldest acceptable heartbeat." };
        var cmd = new Command("health", "Report whether a worker on this machine is alive (heartbeat file age).") { maxAge };
        cmd.SetAction(parse =>
        {
            var beat = new HeartbeatFile(Path.Combine(Path.GetTempPath(), "pipeline-worker.alive"));
            var ok = beat.IsFresh(TimeSpan.FromSeconds(parse.GetValue(maxAge)));
            Console.WriteLine(ok ? "healthy" : "unhealthy: no recent heartbeat at " + beat.Path);
            return ok ? 0 : 1;
        });
        return cmd;
    }
}
