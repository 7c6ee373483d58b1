using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace Pipeline.Worker.Cli;

/// <summary>
/// Progress of a long CLI operation, the same fields everywhere: done/total, the latest detail (a loss where there
/// is one), elapsed time and ETA. On an interactive terminal they are live bars; otherwise (piped, CI, logs) a plain
/// line per task at most every <see cref="PlainInterval"/> and one when it finishes, so a redirected `project` or
/// `train` is never silent for minutes.
/// </summary>
internal static class CliProgress
{
    /// <summary>Spectre allows one live display per process, so redirected runs and parallel tests get plain lines.</summary>
    public static bool Interactive => !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Plain lines: at most one per task this often, plus the final one.</summary>
    public static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(2);

    /// <summary>Runs <paramref name="body"/> with a factory of tasks (name, total).</summary>
    public static void Run(Action<Func<string, double, CliTask>> body)
    {
        if (!Interactive)
        {
            body((name, total) => CliTask.Plain(name, total, Console.Out, PlainInterval));
            return;
        }
        Columns(AnsiConsole.Progress()).Start(ctx => body((name, total) => CliTask.Live(name, total, ctx.AddTask(Markup.Escape(name), maxValue: Math.Max(total, 1)))));
    }

    public static async Task RunAsync(Func<Func<string, double, CliTask>, Task> body)
    {
        if (!Interactive)
        {
            await body((name, total) => CliTask.Plain(name, total, Console.Out, PlainInterval));
            return;
        }
        await Columns(AnsiConsole.Progress()).StartAsync(ctx => body((name, total) => CliTask.Live(name, total, ctx.AddTask(Markup.Escape(name), maxValue: Math.Max(total, 1)))));
    }

    /// <summary>Runs one task of <paramref name="total"/> steps.</summary>
    public static void Run(string name, double total, Action<CliTask> body) => Run(add => body(add(name, total)));

    private static Progress Columns(Progress p) => p.AutoClear(false).Columns(
        new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
        new ElapsedTimeColumn(), new RemainingTimeColumn());

    internal static string Clock(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}")
        : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes:D2}:{t.Seconds:D2}");
}

/// <summary>One task of a <see cref="CliProgress"/> display; thread-safe.</summary>
internal sealed class CliTask
{
    private readonly string _name;
    private readonly ProgressTask? _live;
    private readonly TextWriter? _plain;
    private readonly TimeSpan _interval;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private TimeSpan? _lastLine;
    private bool _finished;
    private double _start;

    private CliTask(string name, double total, ProgressTask? live, TextWriter? plain, TimeSpan interval)
    {
        _name = name;
        Total = total;
        _live = live;
        _plain = plain;
        _interval = interval;
    }

    /// <summary>A live bar of a Spectre progress display.</summary>
    internal static CliTask Live(string name, double total, ProgressTask task) => new(name, total, task, null, TimeSpan.Zero);

    /// <summary>Plain lines on <paramref name="output"/>, at most one per <paramref name="interval"/> and the final one.</summary>
    internal static CliTask Plain(string name, double total, TextWriter output, TimeSpan interval) => new(name, total, null, output, interval);

    public double Total { get; }
    public double Value { get; private set; }

    /// <summary>The latest extra field, e.g. "loss 0.0123"; shown with the next update.</summary>
    public string? Detail { get; private set; }

    public void Increment(double by = 1, string? detail = null) => Set(Value + by, detail);

    /// <summary>
    /// Continues from <paramref name="value"/> (a resumed run): the count shows the whole run, while the rate and the
    /// ETA count only the steps done from here on, so a run resumed at 50% does not promise to end in a minute.
    /// </summary>
    public void ResumeFrom(double value)
    {
        lock (_gate)
        {
            Value = _start = Math.Min(value, Total);
            _clock.Restart();
            if (_live is null) return;
            _live.MaxValue = Math.Max(Total - _start, 1);
            _live.Value = 0;
            _live.Description = Markup.Escape(Line(withTimes: false));
        }
    }

    public void Set(double value, string? detail = null)
    {
        lock (_gate)
        {
            Value = Math.Min(value, Total);
            if (detail is not null) Detail = detail;
            if (_live is not null)
            {
                _live.Value = Value - _start;
                _live.Description = Markup.Escape(Line(withTimes: false));
                return;
            }
            var now = _clock.Elapsed;
            bool done = Value >= Total;
            if (_finished || (!done && _lastLine is { } last && now - last < _interval)) return;
            _lastLine = now;
            _finished = done;
            _plain!.WriteLine(Line(withTimes: true));
        }
    }

    /// <summary>"name: 120/1000 (12%) loss 0.123, elapsed 00:14, eta 01:43".</summary>
    internal string Line(bool withTimes)
    {
        var s = string.Create(CultureInfo.InvariantCulture, $"{_name}: {Value:0.##}/{Total:0.##}");
        if (Total > 0) s += string.Create(CultureInfo.InvariantCulture, $" ({100 * Value / Total:0}%)");
        if (!string.IsNullOrEmpty(Detail)) s += " " + Detail;
        if (!withTimes) return s;
        var elapsed = _clock.Elapsed;
        s += ", elapsed " + CliProgress.Clock(elapsed);
        if (Value > _start && Value < Total) s += ", eta " + CliProgress.Clock(elapsed * ((Total - Value) / (Value - _start)));
        return s;
    }
}
