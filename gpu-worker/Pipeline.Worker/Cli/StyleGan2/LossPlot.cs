using Pipeline.Engine.StyleGan2;

namespace Pipeline.Worker.Cli.StyleGan2;

/// <summary>Projection loss curves (each image's loss on a log10 axis, one line per image) as a PNG.</summary>
internal static class LossPlot
{
    /// <summary>One image's loss by step.</summary>
    public sealed record Curve(string Name, IReadOnlyList<(int Step, double Loss)> Points)
    {
        /// <summary>
        /// Image <paramref name="index"/> of a batched projection: its own loss where the projector recorded it
        /// (independent images), else the batch's loss (then the same for every image of the batch).
        /// </summary>
        public static Curve ForImage(string name, IReadOnlyList<ProjectionStep> history, int index) =>
            new(name, history.Select(h => (h.Step, h.ImageLosses is { } own ? own[index] : h.Loss)).ToList());
    }

    public static void Save(IReadOnlyList<Curve> curves, string path, string title = "StyleGAN2 projection") => Build(curves, title).SavePng(path, 900, 500);

    internal static ScottPlot.Plot Build(IReadOnlyList<Curve> curves, string title = "StyleGAN2 projection")
    {
        var plt = new ScottPlot.Plot();
        UseFileFont(plt);
        foreach (var curve in curves)
        {
            if (curve.Points.Count == 0) continue;
            var xs = curve.Points.Select(p => (double)p.Step).ToArray();
            var ys = curve.Points.Select(p => Math.Log10(Math.Max(p.Loss, 1e-12))).ToArray();
            var line = plt.Add.Scatter(xs, ys);
            line.LegendText = curve.Name;
            line.MarkerSize = 0;
        }
        plt.Title(title);
        plt.XLabel("step");
        plt.YLabel("log10(loss)");
        // Beside the data, not over it: inside, the legend sat on the curves' ends, the part a reader looks at.
        plt.ShowLegend(ScottPlot.Edge.Right);
        return plt;
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
