using Pipeline.Infra.Contracts;

namespace Pipeline.Worker.Jobs;

/// <summary>Runs one kind of job. Handlers write their outputs through the <see cref="JobContext"/> and return metrics.</summary>
public interface IJobHandler
{
    /// <summary>True when this handler runs <paramref name="job"/> (kind, and variant where a kind has several).</summary>
    bool CanHandle(JobSpec job);

    /// <summary>
    /// Runs the job. Throw <see cref="PermanentJobException"/> for inputs that can never succeed (the runner treats an
    /// operation's <see cref="Operations.UnusableInputException"/> the same way).
    /// </summary>
    Task<IReadOnlyDictionary<string, double>> RunAsync(JobContext context, CancellationToken cancellationToken);
}

/// <summary>A job that can never succeed (bad parameters, incompatible model, undecodable input): dead-letter, do not retry.</summary>
public sealed class PermanentJobException : Exception
{
    public PermanentJobException(string message, Exception? inner = null) : base(message, inner) { }
    public PermanentJobException() { }
    public PermanentJobException(string message) : base(message) { }
}
