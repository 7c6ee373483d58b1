using System.Text.Json;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Infra.Indexes;

/// <summary>
/// The job-state index: status/.index/jobs.json, the latest state of the <see cref="Capacity"/> most recently updated
/// jobs (one entry per job, its status document without message or progress), which the dashboard counts instead of
/// listing status/. The publisher adds queued jobs, the worker each state change (not progress ticks). Older jobs are
/// dropped from it, not archived: their status documents stay the record of truth.
/// </summary>
public static class JobStateIndex
{
    /// <summary>The head blob. ".index" is not a job id, so it cannot collide with a status document.</summary>
    public const string HeadPath = BlobLayout.Status + "/.index/jobs.json";
    /// <summary>Jobs in the index (what the dashboard counts).</summary>
    public const int Capacity = 500;

    /// <summary>The feed over <paramref name="store"/>.</summary>
    public static BlobFeed<JobStatus> Feed(IBlobStore store) => new(store, HeadPath, s => s.JobId, s => s.UpdatedAt, Capacity, pageSize: 50, archive: false);

    /// <summary>Records job states (seeding a missing index from the newest status documents first).</summary>
    public static Task RecordAsync(IBlobStore store, IReadOnlyCollection<JobStatus> states, CancellationToken cancellationToken = default) =>
        states.Count == 0 ? Task.CompletedTask
            : Feed(store).AddAsync(states.Select(s => s with { Message = null, Progress = null }).ToList(), ct => ScanAsync(store, ct), cancellationToken);

    /// <summary>Rebuilds the index from a scan (what a missing index is seeded with); returns the job states found.</summary>
    public static Task<int> RebuildAsync(IBlobStore store, CancellationToken cancellationToken = default) =>
        Feed(store).RebuildAsync(ct => ScanAsync(store, ct), cancellationToken);

    /// <summary>The newest <see cref="Capacity"/> status documents by last-modified time (a full listing of status/: the cost the index avoids).</summary>
    public static async Task<IReadOnlyList<JobStatus>> ScanAsync(IBlobStore store, CancellationToken cancellationToken = default)
    {
        var recent = new List<BlobProperties>();
        await foreach (var b in store.ListAsync(BlobLayout.Status + "/", cancellationToken))
            if (b.Path.Count(c => c == '/') == 1) recent.Add(b);
        var states = new List<JobStatus>();
        foreach (var b in recent.OrderByDescending(b => b.LastModified).Take(Capacity))
        {
            try
            {
                if (await store.GetJsonAsync<JobStatus>(b.Path, cancellationToken) is { } s) states.Add(s with { Message = null, Progress = null });
            }
            catch (JsonException)
            {
                // an unreadable status document is not counted
            }
        }
        return states;
    }
}
