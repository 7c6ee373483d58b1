using Pipeline.Engine.Training;

namespace Pipeline.Worker.Cli.Training;

/// <summary>Loss curves from metrics.jsonl as a PNG (ScottPlot), one line per named series, smoothed over a window.</summary>
internal static class TrainingPlots
{
    public static void Save(string metricsFile, IReadOnlyList<string> series, string title, string path, int window = 20)
    {
        var rows = MetricLog.ReadNumbers(metricsFile);
        if (rows.Count == 0) return;
        var plt = new ScottPlot.Plot();
        const string font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
        if (File.Exists(font))
        {
            // SkiaSharp's NoDependencies natives have no fontconfig: load a font file explicitly.
            ScottPlot.Fonts.AddFontFile("PipelineTrainFont", font);
            plt.Font.Set("PipelineTrainFont");
        }
        foreach (var name in series)
        {
            var pts = rows.Where(r => r.ContainsKey(name) && r.ContainsKey("iter")).Select(r => (X: r["iter"], Y: r[name])).ToList();
            if (pts.Count == 0) continue;
            var ys = Smooth(pts.Select(p => p.Y).ToArray(), window);
            var line = plt.Add.Scatter(pts.Select(p => p.X).ToArray(), ys);
            line.LegendText = name;
            line.MarkerSize = 0;
        }
        plt.Title(title);
        plt.XLabel("iteration");
        plt.YLabel($"value (moving mean over {window})");
        plt.ShowLegend();
        plt.SavePng(path, 900, 500);
    }

    private static double[] Smooth(double[] v, int window)
    {
        var r = new double[v.Length];
        double sum = 0;
        for (int i = 0; i < v.Length; i++)
        {
            sum += v[i];
            if (i >= window) sum -= v[i - window];
            r[i] = sum / Math.Min(i + 1, window);
        }
        return r;
    }
}
