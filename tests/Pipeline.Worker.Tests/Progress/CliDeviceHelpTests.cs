using System.CommandLine;
using Pipeline.Engine;
using Pipeline.Worker.Cli;

namespace Pipeline.Worker.Tests.Progress;

/// <summary>Every command's --device says the same true thing in --help: one description, one default, no contradiction.</summary>
public class CliDeviceHelpTests
{
    private static IEnumerable<Command> All(Command c) => c.Subcommands.SelectMany(All).Prepend(c);

    [Fact]
    public void EveryDeviceOptionDefaultsToAutoAndItsHelpSaysWhatAutoMeans()
    {
        var root = new RootCommand();
        foreach (var c in CliCommands.Discover()) root.Subcommands.Add(c.Build());
        var withDevice = All(root).Where(c => c.Options.Any(o => o.Name == "--device")).ToList();
        Assert.True(withDevice.Count >= 15, $"{withDevice.Count} commands with --device");
        foreach (var command in withDevice)
        {
            var help = new StringWriter();
            var name = new List<string>();
            for (Command? c = command; c is not null && c != root; c = c.Parents.OfType<Command>().FirstOrDefault()) name.Insert(0, c.Name);
            root.Parse([.. name, "--help"]).Invoke(new InvocationConfiguration { Output = help });
            // Help may wrap a long description onto the next lines: compare with runs of blanks collapsed.
            var text = System.Text.RegularExpressions.Regex.Replace(help.ToString(), @"\s+", " ");
            // The text names what auto does, and the only [default: ...] is auto (not a device computed on this machine).
            Assert.Contains($"--device <device> Device: {Devices.Names} [default: auto]", text, StringComparison.Ordinal);
            Assert.Equal(1, System.Text.RegularExpressions.Regex.Count(text, "--device"));
            Assert.DoesNotContain("default: cpu", text, StringComparison.Ordinal);
            Assert.DoesNotContain("default: cuda", text, StringComparison.Ordinal);
        }
    }
}
