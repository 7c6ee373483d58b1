namespace Pipeline.Infra.Storage;

/// <summary>
/// One page of a <see cref="BlobFeed{T}"/>: entries newest first, and the path of the next older page (null at the end).
/// </summary>
public sealed record FeedPage<T>
{
    /// <summary>Schema version.</summary>
    public int Schema { get; init; } = 1;
    /// <summary>Entries, newest first.</summary>
    public required IReadOnlyList<T> Entries { get; init; }
    /// <summary>The next older page (an archive page that is never rewritten), or null.</summary>
    public string? Older { get; init; }
}

/// <summary>
/// A bounded, newest-first list of small JSON entries kept in blobs, so a reader learns about the latest N things with
/// one read whatever the history: a head blob holds the newest <c>capacity</c> entries (plus at most a page more); when
/// it overflows, the oldest entries move into archive pages of <c>pageSize</c> (create-only, uniquely named, linked newest
/// to oldest through <see cref="FeedPage{T}.Older"/>), or are dropped when <c>archive</c> is false (the documents they
/// summarise stay in storage either way). With <c>group</c>, the head keeps the newest <c>capacity</c> of each group (a
/// flood of one kind of entry cannot push the others out).
/// Writers update the head with optimistic concurrency (read, merge, write If-Match / If-None-Match:*; retry on
/// conflict), so concurrent workers never lose each other's entries. An entry whose key is already in the head
/// replaces it unless the one there is later (re-indexing is idempotent). A writer that loses the race leaves at most
/// unreferenced archive pages.
/// </summary>
public sealed class BlobFeed<T>(IBlobStore store, string headPath, Func<T, string> key, Func<T, DateTimeOffset> time, int capacity, int pageSize = 100, bool archive = true, Func<T, string>? group = null)
{
    /// <summary>The head blob.</summary>
    public string HeadPath => headPath;

    /// <summary>Entries the head keeps at least (when there are that many); it holds at most a page more.</summary>
    public int Capacity => capacity;

    /// <summary>Write attempts before a conflict is rethrown.</summary>
    public int MaxAttempts { get; init; } = 32;

    /// <summary>
    /// Adds (or replaces, by key) entries. When the head does not exist yet, <paramref name="seed"/> (if given) supplies the
    /// entries already in storage (a one-off scan of data written before the feed existed), and the head is created
    /// with them only if nobody else created it meanwhile.
    /// </summary>
    public async Task AddAsync(IReadOnlyCollection<T> added, Func<CancellationToken, Task<IReadOnlyList<T>>>? seed = null, CancellationToken cancellationToken = default)
    {
        IReadOnlyList<T>? seeded = null;
        for (var attempt = 1; ; attempt++)
        {
            var current = await store.GetBytesAsync(headPath, cancellationToken);
            List<T> entries;
            string? older;
            BlobConditions conditions;
            if (current is null)
            {
                seeded ??= seed is null ? [] : await seed(cancellationToken);
                entries = [.. seeded];
                older = null;
                conditions = BlobConditions.IfNotExists;
            }
            else
            {
                var page = Contracts.JobJson.FromUtf8<FeedPage<T>>(current.Value.Bytes);
                entries = [.. page.Entries];
                older = page.Older;
                conditions = BlobConditions.IfVersion(current.Value.Properties.ETag);
            }
            older = await MergeAsync(entries, added, older, out var head, cancellationToken);
            try
            {
                await store.PutJsonAsync(headPath, new FeedPage<T> { Entries = head, Older = older }, conditions, cancellationToken);
                return;
            }
            catch (BlobConditionFailedException) when (attempt < MaxAttempts)
            {
                await Task.Delay(Random.Shared.Next(5, 20 * Math.Min(attempt, 10)), cancellationToken);
            }
        }
    }

    /// <summary>Replaces the whole feed with <paramref name="entries"/> (a rebuild from a full scan); older pages are dropped from the chain.</summary>
    public async Task ReplaceAsync(IReadOnlyCollection<T> entries, CancellationToken cancellationToken = default)
    {
        var older = await MergeAsync([], entries, null, out var head, cancellationToken);
        await store.PutJsonAsync(headPath, new FeedPage<T> { Entries = head, Older = older }, null, cancellationToken);
    }

    /// <summary>Replaces the feed with what <paramref name="scan"/> finds (a rebuild of an index); returns how many entries it found.</summary>
    public async Task<int> RebuildAsync(Func<CancellationToken, Task<IReadOnlyList<T>>> scan, CancellationToken cancellationToken = default)
    {
        var all = await scan(cancellationToken);
        await ReplaceAsync(all.ToList(), cancellationToken);
        return all.Count;
    }

    /// <summary>The head page (newest entries), or null when the feed does not exist.</summary>
    public Task<FeedPage<T>?> ReadHeadAsync(CancellationToken cancellationToken = default) => store.GetJsonAsync<FeedPage<T>>(headPath, cancellationToken);

    private Task<string?> MergeAsync(List<T> entries, IReadOnlyCollection<T> added, string? older, out List<T> head, CancellationToken cancellationToken)
    {
        // By key, the later entry wins (an added one on a tie): a late writer's stale state cannot hide a newer one.
        var byKey = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var e in entries) byKey[key(e)] = e;
        foreach (var e in added)
            if (!byKey.TryGetValue(key(e), out var existing) || time(e) >= time(existing)) byKey[key(e)] = e;
        var sorted = byKey.Values.OrderByDescending(time).ThenBy(key, StringComparer.Ordinal).ToList();
        // Beyond the newest `capacity` (of each group), newest first.
        var overflow = (group is null ? sorted.Skip(capacity) : sorted.GroupBy(group).SelectMany(g => g.Skip(capacity)))
            .OrderByDescending(time).ThenBy(key, StringComparer.Ordinal).ToList();
        // The head may run over capacity by up to a page, so a page is written once per pageSize additions, not on every one.
        var slack = archive ? Math.Max(1, pageSize) : 0;
        if (overflow.Count <= slack)
        {
            head = sorted;
            return Task.FromResult(older);
        }
        var spilled = overflow.Skip(overflow.Count - (archive ? overflow.Count / slack * slack : overflow.Count)).ToList();
        var gone = spilled.Select(key).ToHashSet(StringComparer.Ordinal);
        head = sorted.Where(e => !gone.Contains(key(e))).ToList();
        return archive ? SpillAsync(spilled, older, cancellationToken) : Task.FromResult(older);
    }

    // Oldest chunk first, so each page links to the one written before it and the head links to the newest.
    private async Task<string?> SpillAsync(List<T> overflow, string? older, CancellationToken cancellationToken)
    {
        var folder = headPath[..(headPath.LastIndexOf('/') + 1)];
        var chunks = overflow.Chunk(Math.Max(1, pageSize)).Reverse();
        foreach (var chunk in chunks)
        {
            var name = folder + "page-" + Guid.NewGuid().ToString("N") + ".json";
            await store.PutJsonAsync(name, new FeedPage<T> { Entries = chunk, Older = older }, BlobConditions.IfNotExists, cancellationToken);
            older = name;
        }
        return older;
    }
}
