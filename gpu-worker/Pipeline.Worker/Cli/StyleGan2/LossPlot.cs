using Pipeline.Engine.StyleGan2;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>Projection loss curves (total loss on a log10 axis, one line per image) as a PNG.</summary>
internal static class LossPlot
{
    public static void Save(IReadOnlyList<(string Name, IReadOnlyList<ProjectionStep> History)> curves, string path)
    {
        var plt = new ScottPlot.Plot();
        UseFileFont(plt);
        foreach (var (name, history) in curves)
        {
            if (history.Count == 0) continue;
            var xs = history.Select(h => (double)h.Step).ToArray();
            var ys = history.Select(h => Math.Log10(Math.Max(h.Loss, 1e-12))).ToArray();
            var line = plt.Add.Scatter(xs, ys);
            line.LegendText = name;
            line.MarkerSize = 0;
        }
        plt.Title("StyleGAN2 projection");
        plt.XLabel("step");
        plt.YLabel("log10(loss)");
        plt.ShowLegend();
        plt.SavePng(path, 900, 500);
    }

    // SkiaSharp's NoDependencies natives have no fontconfig, so system fonts are invisible unless loaded from a file.
    private static void UseFileFont(ScottPlot.Plot plt)
    {
        const string dir = "/usr/share/fonts";
        var file = new[] { "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf" }.FirstOrDefault(File.Exists)
            ?? (Directory.Exists(dir) ? Directory.EnumerateFiles(dir, "*.ttf", SearchOption.AllDirectories).FirstOrDefault() : null);
        if (file is null) return;
        ScottPlot.Fonts.AddFontFile("PipelinePlotFont", file);
        plt.Font.Set("PipelinePlotFont");
    }
}
