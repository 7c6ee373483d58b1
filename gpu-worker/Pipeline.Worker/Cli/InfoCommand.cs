using System.CommandLine;
using Spectre.Console;
using TorchSharp;

namespace Pipeline.Worker.Cli;

/// <summary>`pipeline info`: what this machine offers the engine (libtorch build, CUDA, threads).</summary>
public sealed class InfoCommand : ICliCommand
{
    public Command Build()
    {
        var cmd = new Command("info", "Show the TorchSharp/libtorch backend, CUDA devices and thread count.");
        cmd.SetAction(_ =>
        {
            var table = new Table().AddColumn("property").AddColumn("value");
            table.AddRow("TorchSharp", typeof(torch).Assembly.GetName().Version?.ToString() ?? "?");
            table.AddRow("libtorch threads", torch.get_num_threads().ToString());
            bool cuda = torch.cuda.is_available();
            table.AddRow("CUDA available", cuda.ToString());
            if (cuda) table.AddRow("CUDA devices", torch.cuda.device_count().ToString());
            AnsiConsole.Write(table);
            return 0;
        });
        return cmd;
    }
}
