namespace Pipeline.Worker.Jobs.Models;

/// <summary>
/// Loaded model objects under a byte budget. One load per key even when jobs race (later callers wait for the first
/// one's load), jobs hold leases, and least-recently-used idle models are evicted and disposed while the total
/// estimated size is over the budget. A model in use is never evicted: the cache may sit over budget until its last
/// lease is released, and then evicts. The most recently used model is kept even when it alone exceeds the budget,
/// so a worker that serves one big model does not reload it for every job.
/// </summary>
internal sealed class LoadedModels(long budgetBytes) : IDisposable
{
    private sealed class Entry((string, Type) key)
    {
        public readonly (string, Type) Key = key;
        public readonly TaskCompletionSource<object> Loaded = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public object? Value;
        public long Bytes;
        public int Leases;
        public LinkedListNode<Entry>? Recency;
        /// <summary>Out of the cache (cache disposed) while leased: the last release disposes it.</summary>
        public bool Dropped;
    }

    private readonly object _sync = new();
    private readonly Dictionary<(string Identity, Type Type), Entry> _entries = [];
    private readonly LinkedList<Entry> _recency = []; // first = most recently used
    private readonly Dictionary<(string Identity, Type Type), int> _loads = []; // completed loads per key, reloads included
    private long _bytes;
    private bool _disposed;

    public long BudgetBytes { get; } = Math.Max(0, budgetBytes);

    /// <summary>Estimated bytes of the models held now.</summary>
    public long Bytes { get { lock (_sync) return _bytes; } }

    public int Count { get { lock (_sync) return _recency.Count; } }

    /// <summary>Models loaded since the start, reloads after eviction included (a cache that thrashes shows here).</summary>
    public long Loads { get { lock (_sync) return _loads.Values.Sum(n => (long)n); } }

    /// <summary>Completed loads of one key since the start.</summary>
    internal int LoadsOf(string identity, Type type)
    {
        lock (_sync) return _loads.GetValueOrDefault((identity, type));
    }

    /// <summary>Whether the cache holds the model of a key now (loaded and not evicted).</summary>
    internal bool Holds(string identity, Type type)
    {
        lock (_sync) return _entries.TryGetValue((identity, type), out var e) && e.Recency is not null;
    }

    /// <summary>Open leases on a key (loading included): lets tests see that a racing caller is waiting.</summary>
    internal int LeasesOf(string identity, Type type)
    {
        lock (_sync) return _entries.TryGetValue((identity, type), out var e) ? e.Leases : 0;
    }

    public async Task<ModelLease<T>> GetAsync<T>(string identity, Func<T> load, Func<T, long> size, CancellationToken cancellationToken) where T : class
    {
        var key = (identity, typeof(T));
        Entry entry;
        bool loader;
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            loader = !_entries.TryGetValue(key, out entry!);
            if (loader) _entries[key] = entry = new Entry(key);
            entry.Leases++; // before the load finishes, so nothing can evict it between load and first use
            if (entry.Recency is not null) Touch(entry);
        }
        try
        {
            if (loader) Load(entry, load, size);
            var value = await entry.Loaded.Task.WaitAsync(cancellationToken);
            return new ModelLease<T>((T)value, () => Release(entry));
        }
        catch
        {
            Release(entry);
            throw;
        }
    }

    /// <summary>Runs the load on the caller's thread (as before the cache had leases) and completes the entry either way.</summary>
    private void Load<T>(Entry entry, Func<T> load, Func<T, long> size) where T : class
    {
        T value;
        long bytes;
        try
        {
            value = load();
            bytes = Math.Max(0, size(value));
        }
        catch (Exception e)
        {
            // Not cached: the waiters see this failure and the next job tries again.
            lock (_sync) _entries.Remove(entry.Key);
            entry.Loaded.SetException(e);
            return;
        }
        List<object> victims;
        lock (_sync)
        {
            entry.Value = value;
            entry.Bytes = bytes;
            _loads[entry.Key] = _loads.GetValueOrDefault(entry.Key) + 1;
            if (_disposed) entry.Dropped = true;
            else
            {
                entry.Recency = _recency.AddFirst(entry);
                _bytes += bytes;
            }
            victims = EvictOverBudget();
        }
        entry.Loaded.SetResult(value);
        DisposeAll(victims);
    }

    private void Release(Entry entry)
    {
        List<object> victims;
        lock (_sync)
        {
            entry.Leases--;
            victims = EvictOverBudget();
            if (entry is { Dropped: true, Leases: 0, Value: { } v }) victims.Add(v);
        }
        DisposeAll(victims);
    }

    private void Touch(Entry entry)
    {
        _recency.Remove(entry.Recency!);
        _recency.AddFirst(entry.Recency!);
    }

    /// <summary>Under the lock: unlinks idle models, least recently used first, until the total fits. Disposal happens outside it.</summary>
    private List<object> EvictOverBudget()
    {
        var victims = new List<object>();
        var node = _recency.Last;
        while (_bytes > BudgetBytes && node is not null && node != _recency.First)
        {
            var previous = node.Previous;
            var e = node.Value;
            if (e.Leases == 0)
            {
                Unlink(e);
                victims.Add(e.Value!);
            }
            node = previous;
        }
        return victims;
    }

    private void Unlink(Entry e)
    {
        _recency.Remove(e.Recency!);
        e.Recency = null;
        _bytes -= e.Bytes;
        _entries.Remove(e.Key);
    }

    private static void DisposeAll(List<object> models)
    {
        foreach (var m in models) (m as IDisposable)?.Dispose();
    }

    /// <summary>Disposes idle models now and leased ones when their last lease is released.</summary>
    public void Dispose()
    {
        List<object> victims = [];
        lock (_sync)
        {
            _disposed = true;
            foreach (var e in _recency.ToList())
            {
                Unlink(e);
                if (e.Leases == 0) victims.Add(e.Value!);
                else e.Dropped = true;
            }
        }
        DisposeAll(victims);
    }
}
