using Pipeline.Engine.Metrics;
using Pipeline.Engine.Metrics.Records;
using Pipeline.Metrics;

namespace Pipeline.Worker.Operations.Metrics;

/// <summary>
/// The one evaluation path of metrics jobs and `pipeline fid/kid/ppl`: a definition (registered by name, or one the
/// CLI builds from its arguments) and its sources in a <see cref="MetricContext"/> go through the registry's evaluate,
/// which gives the engine's <see cref="MetricRecord"/> (value, or "skipped"/"failed" with the reason) and hands it to
/// the caller's sink: the job's blob sink, the CLI's JSON-lines folder or none. Callers only read the record.
/// </summary>
public static class MetricEvaluation
{
    /// <summary>A sink that keeps nothing: the CLI without --record prints the record and stores no line.</summary>
    public static IMetricSink NoSink { get; } = new DelegateMetricSink((_, _) => Task.CompletedTask);

    /// <summary>Evaluates the registered metric <paramref name="name"/> (a job's metric).</summary>
    public static Task<MetricRecord> RunAsync(MetricRegistry registry, string name, MetricContext context, IMetricSink sink, CancellationToken ct) =>
        registry.EvaluateAsync(name, context, sink, ct);

    /// <summary>
    /// Evaluates a definition that no registry holds (the CLI's, whose settings come from arguments), through the same
    /// evaluate as registered ones, so its record has the same status rules and fields.
    /// </summary>
    public static Task<MetricRecord> RunAsync(MetricDefinition definition, MetricContext context, IMetricSink? sink, CancellationToken ct)
    {
        var one = new MetricRegistry();
        one.Register(definition);
        return one.EvaluateAsync(definition.Name, context, sink ?? NoSink, ct);
    }

    /// <summary>
    /// Why an evaluation gave no value, for a job's note and the CLI's line: the absent weights by name ("skipped: no
    /// VGG16 weights"), else the record's status and reason.
    /// </summary>
    public static string Explain(MetricDefinition definition, MetricRecord record, FeatureNetworkStore weights)
    {
        var absent = record.Status == "skipped" ? definition.Networks.Where(f => weights.Find(f) is null).Select(f => f.Title).ToList() : [];
        return absent.Count > 0 ? "skipped: " + string.Join(", ", absent.Select(t => $"no {t} weights")) : $"{record.Status}: {record.Reason}";
    }
}
