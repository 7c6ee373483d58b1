using System.Collections.Concurrent;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Queue;

namespace Pipeline.Functions.Services;

/// <summary>The queue a job kind goes to.</summary>
public interface IJobQueueProvider
{
    /// <summary>The queue for <paramref name="kind"/>.</summary>
    IJobQueue For(JobKind kind);
}

/// <summary>Maps job kinds to queue names and opens each queue once through a factory (Service Bus in Azure, in-process locally).</summary>
public sealed class JobQueueProvider(QueueNames names, Func<string, IJobQueue> open) : IJobQueueProvider, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, IJobQueue> _queues = new(StringComparer.Ordinal);

    /// <inheritdoc />
    public IJobQueue For(JobKind kind) => Named(NameOf(kind));

    /// <summary>A queue by name (tests look into the in-process queues this way).</summary>
    public IJobQueue Named(string name) => _queues.GetOrAdd(name, open);

    /// <summary>The configured queue name of a kind.</summary>
    public string NameOf(JobKind kind) => kind switch
    {
        JobKind.Translation => names.Translate,
        JobKind.Projection => names.Project,
        JobKind.Augmentation or JobKind.Metrics => names.Augment,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "No queue for this job kind."),
    };

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var q in _queues.Values) await q.DisposeAsync();
    }
}
