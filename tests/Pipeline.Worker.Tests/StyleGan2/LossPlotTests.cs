using Pipeline.Engine.StyleGan2;
using Pipeline.Worker.Cli.StyleGan2;
using SkiaSharp;

namespace Pipeline.Worker.Tests.StyleGan2;

/// <summary>`project`'s loss plot: one curve per image of a batch, the legend beside the data.</summary>
public sealed class LossPlotTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("lossplot-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static List<ProjectionStep> History(int steps, Func<int, double[]?> own) =>
        [.. Enumerable.Range(0, steps).Select(i => new ProjectionStep(i, 0.1, 0, own(i)?.Sum() ?? 1.0 / (i + 1), 0, 0, 0) { ImageLosses = own(i) })];

    [Fact]
    public void EachImageOfABatchGetsItsOwnCurve()
    {
        var history = History(4, i => [1.0 / (i + 1), 10.0 / (i + 1)]);
        var a = LossPlot.Curve.ForImage("a", history, 0);
        var b = LossPlot.Curve.ForImage("b", history, 1);
        Assert.Equal([1.0, 0.5, 1.0 / 3, 0.25], a.Points.Select(p => p.Loss));
        Assert.Equal([10.0, 5.0, 10.0 / 3, 2.5], b.Points.Select(p => p.Loss));
        // Without per-image losses (coupled projections) an image's curve is the batch's loss.
        Assert.Equal([1.0, 0.5], LossPlot.Curve.ForImage("c", History(2, _ => null), 0).Points.Select(p => p.Loss));
    }

    [Fact]
    public void TheLegendSitsBesideTheDataNotOverTheCurvesEnds()
    {
        var history = History(50, i => [Math.Exp(-i / 10.0), 2 * Math.Exp(-i / 20.0)]);
        LossPlot.Curve[] curves = [LossPlot.Curve.ForImage("first", history, 0), LossPlot.Curve.ForImage("second", history, 1)];
        var plot = LossPlot.Build(curves);
        Assert.Equal(["first", "second"], plot.GetPlottables<ScottPlot.Plottables.Scatter>().Select(s => s.LegendText));
        // ShowLegend(Edge) replaces the legend inside the data area with a panel on the figure's edge.
        Assert.Contains("LegendPanel", plot.Axes.GetPanels().Select(p => p.GetType().Name));
        var path = Path.Combine(_dir, "loss.png");
        LossPlot.Save(curves, path);
        using var bmp = SKBitmap.Decode(path);
        Assert.Equal((900, 500), (bmp.Width, bmp.Height));
    }
}
