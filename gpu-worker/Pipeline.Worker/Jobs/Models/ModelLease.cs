namespace Pipeline.Worker.Jobs.Models;

/// <summary>
/// A job's hold on a cached model. While any lease is open the cache neither evicts nor disposes the model; dispose
/// the lease when the job is done with the model, at the latest when the job ends.
/// </summary>
public sealed class ModelLease<T> : IDisposable where T : class
{
    private Action? _release;

    internal ModelLease(T model, Action release)
    {
        Model = model;
        _release = release;
    }

    public T Model { get; }

    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
