using System.CommandLine;
using Pipeline.Worker.Cli;

// `pipeline`: one entry point for every local action. Each subcommand is an ICliCommand in Cli/,
// discovered by reflection so features add a file instead of editing a central list.
CliConsole.Configure();
var root = new RootCommand("GAN image pipeline: generate, translate, project, measure, validate, run the demo and the worker.");
foreach (var command in CliCommands.Discover())
    root.Subcommands.Add(command.Build());

return await root.Parse(args).InvokeAsync();
