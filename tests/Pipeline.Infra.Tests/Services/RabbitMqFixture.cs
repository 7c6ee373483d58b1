using System.Diagnostics;
using Pipeline.Tests;

namespace Pipeline.Infra.Tests.Services;

/// <summary>
/// A private RabbitMQ node (Debian rabbitmq-server, installed by build/prereqs.d/11-rabbitmq.sh) with only the AMQP 1.0
/// plugin, everything on 127.0.0.1 with free ports (AMQP, Erlang distribution, its own epmd) and its own data dir;
/// a policy dead-letters queue "jobs" to "jobs.dlq". Stopped and cleaned up after the test class.
/// </summary>
public sealed class RabbitMqFixture : IAsyncLifetime
{
    private const string Bin = "/usr/lib/rabbitmq/bin";
    private LocalProcess? _server;
    private string? _dir;
    private Dictionary<string, string>? _env;
    private int _epmdPort;

    public int Port { get; private set; }
    /// <summary>Why the broker is not available (not installed, did not start), or null when it runs.</summary>
    public string? SkipReason { get; private set; }

    /// <summary>Call first in every test that needs the broker: skips with <see cref="SkipReason"/>, fails under CI=true.</summary>
    public void Require()
    {
        if (SkipReason is not null) Requirement.Skip(SkipReason);
    }

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(Path.Combine(Bin, "rabbitmq-server")))
        {
            SkipReason = "rabbitmq-server is not installed: run `bash build/prereqs.d/11-rabbitmq.sh` as root (build/test.sh does).";
            return;
        }
        _dir = Directory.CreateTempSubdirectory("pipeline-rabbit-").FullName;
        Port = LocalProcess.FreePort();
        var distPort = LocalProcess.FreePort();
        _epmdPort = LocalProcess.FreePort();
        File.WriteAllText(Path.Combine(_dir, "rabbitmq.conf"), $"listeners.tcp.default = 127.0.0.1:{Port}\nloopback_users = none\n");
        File.WriteAllText(Path.Combine(_dir, "enabled_plugins"), "[rabbitmq_amqp1_0].\n");
        File.WriteAllText(Path.Combine(_dir, "advanced.config"), "[{kernel, [{inet_dist_use_interface, {127,0,0,1}}]}].\n");
        _env = new Dictionary<string, string>
        {
            ["HOME"] = _dir,
            ["RABBITMQ_NODENAME"] = $"pipeline-{Port}@localhost",
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = Port.ToString(),
            ["RABBITMQ_DIST_PORT"] = distPort.ToString(),
            ["ERL_EPMD_PORT"] = _epmdPort.ToString(),
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_CONFIG_FILE"] = Path.Combine(_dir, "rabbitmq.conf"),
            ["RABBITMQ_ADVANCED_CONFIG_FILE"] = Path.Combine(_dir, "advanced.config"),
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_dir, "enabled_plugins"),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(_dir, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(_dir, "log"),
            ["RABBITMQ_PID_FILE"] = Path.Combine(_dir, "pid"),
            ["RABBITMQ_PLUGINS_EXPAND_DIR"] = Path.Combine(_dir, "plugins-expand"),
            ["RABBITMQ_CONF_ENV_FILE"] = Path.Combine(_dir, "no-env-file"),
            ["RABBITMQ_LOGS"] = "-",
        };
        try
        {
            _server = LocalProcess.Start(Path.Combine(Bin, "rabbitmq-server"), [], _dir, _env);
            await _server.WaitForPortAsync(Port, TimeSpan.FromSeconds(90));
            var policy = await CtlAsync(["set_policy", "DLX", "^jobs$", "{\"dead-letter-exchange\":\"\",\"dead-letter-routing-key\":\"jobs.dlq\"}", "--apply-to", "queues"], TimeSpan.FromSeconds(60));
            if (policy.Code != 0) throw new InvalidOperationException("rabbitmqctl set_policy failed: " + policy.Output);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            SkipReason = $"RabbitMQ could not start on 127.0.0.1:{Port}: {ex.Message}\n{_server?.Output}";
        }
    }

    private async Task<(int Code, string Output)> CtlAsync(string[] args, TimeSpan timeout)
    {
        await using var p = LocalProcess.Start(Path.Combine(Bin, "rabbitmqctl"), args, _dir!, _env);
        var sw = Stopwatch.StartNew();
        while (!p.HasExited && sw.Elapsed < timeout) await Task.Delay(100);
        return p.HasExited ? (p.ExitCode, p.Output) : (-1, "timed out: " + p.Output);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            // The node's data dir is thrown away, so a hard stop is fine and saves the seconds a clean one takes.
            await _server.DisposeAsync();
        }
        if (_env is not null)
        {
            // epmd daemonises out of our process tree: stop the private one we started.
            await using var kill = LocalProcess.Start("epmd", ["-port", _epmdPort.ToString(), "-kill"], _dir!, _env);
            var sw = Stopwatch.StartNew();
            while (!kill.HasExited && sw.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(50);
        }
        if (_dir is not null) try { Directory.Delete(_dir, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
