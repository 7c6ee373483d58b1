using System.CommandLine;

namespace Pipeline.Worker.Cli.Training;

/// <summary>`pipeline train stylegan2|stylegan1|council|encoder|pix2pixhd`: the training loops.</summary>
public sealed class TrainCommand : ICliCommand
{
    public Command Build()
    {
        var cmd = new Command("train", "Train models (StyleGAN2, StyleGAN v1, Council GAN, pix2pixHD, the StyleGAN2 encoder) on an image folder or the built-in synthetic data.");
        cmd.Subcommands.Add(TrainStyleGan2Command.Build());
        cmd.Subcommands.Add(TrainStyleGan1Command.Build());
        cmd.Subcommands.Add(TrainCouncilCommand.Build());
        cmd.Subcommands.Add(TrainEncoderCommand.Build());
        cmd.Subcommands.Add(TrainPix2PixHDCommand.Build());
        cmd.Subcommands.Add(ProxyFdCommand.Build());
        return cmd;
    }
}
