using System.Text.Json;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Infra.Indexes;

/// <summary>
/// One finished work in the gallery index: a batch manifest, a mixing-grid manifest or a job's result document, with
/// what the gallery and the dashboard show of it (a batch keeps its first <see cref="GalleryIndex.MaxItems"/> items and
/// its item count; a result its first <see cref="GalleryIndex.MaxOutputs"/> image outputs). Exactly one of
/// <see cref="Batch"/>, <see cref="Grid"/>, <see cref="Result"/> is set.
/// </summary>
public sealed record GalleryEntry
{
    /// <summary>The document's blob path (datasets/&lt;batch&gt;/manifest.json, datasets/&lt;batch&gt;/mix-*.json, results/&lt;job&gt;/result.json).</summary>
    public required string Path { get; init; }
    /// <summary>When the document was written (its blob's last-modified time).</summary>
    public required DateTimeOffset At { get; init; }
    /// <summary>A batch manifest, items trimmed.</summary>
    public DatasetManifest? Batch { get; init; }
    /// <summary>The batch's item count before trimming.</summary>
    public int Count { get; init; }
    /// <summary>A mixing-grid manifest.</summary>
    public MixManifest? Grid { get; init; }
    /// <summary>A result document, outputs trimmed to images.</summary>
    public JobResult? Result { get; init; }
}

/// <summary>
/// The gallery index: datasets/.index/gallery.json, a <see cref="BlobFeed{T}"/> of the newest
/// <see cref="Capacity"/> batches, grids and results each (<see cref="GalleryEntry"/>; older ones in archive pages beside it). The worker adds an entry
/// when it commits a job's result (and the batch manifest the job wrote) or publishes a mixing grid; the gallery and
/// dashboard read the head only (one conditional GET). ".index" is not a batch id (ids cannot start with '.'),
/// so the index never collides with a batch.
/// </summary>
public static class GalleryIndex
{
    /// <summary>The head blob.</summary>
    public const string HeadPath = BlobLayout.Datasets + "/.index/gallery.json";
    /// <summary>Entries of each kind (batches, grids, results) in the head: the gallery's newest 200 of each.</summary>
    public const int Capacity = 200;
    /// <summary>Items of a batch kept in its entry (cover, panorama strip, dashboard tiles).</summary>
    public const int MaxItems = 25;
    /// <summary>Image outputs of a result kept in its entry.</summary>
    public const int MaxOutputs = 24;

    /// <summary>The feed over <paramref name="store"/>.</summary>
    public static BlobFeed<GalleryEntry> Feed(IBlobStore store) => new(store, HeadPath, e => e.Path, e => e.At, Capacity, group: KindOf);

    /// <summary>An entry's kind: "batch", "grid" or "result".</summary>
    public static string KindOf(GalleryEntry e) => e.Batch is not null ? "batch" : e.Grid is not null ? "grid" : "result";

    /// <summary>
    /// Adds the documents at <paramref name="paths"/> (read back from storage) to the index; when the index does not exist
    /// yet, it is first seeded with a scan of everything already stored (once: later writers find the head).
    /// </summary>
    public static async Task RecordAsync(IBlobStore store, IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        var entries = new List<GalleryEntry>();
        foreach (var p in paths.Where(IsDocumentPath).Distinct(StringComparer.Ordinal))
        {
            if (await store.GetBytesAsync(p, cancellationToken) is { } doc && EntryFor(p, doc.Bytes, doc.Properties.LastModified) is { } e) entries.Add(e);
        }
        if (entries.Count == 0) return;
        await Feed(store).AddAsync(entries, ct => ScanAsync(store, int.MaxValue, ct), cancellationToken);
    }

    /// <summary>Rebuilds the index from a full scan of datasets/ and results/ (what a missing index is seeded with).</summary>
    public static Task<int> RebuildAsync(IBlobStore store, CancellationToken cancellationToken = default) =>
        Feed(store).RebuildAsync(ct => ScanAsync(store, int.MaxValue, ct), cancellationToken);

    /// <summary>
    /// The entry for a document, or null when the path is not an indexed document or the content does not parse as
    /// one (a manifest of another schema, a grid of another kind, a result whose job id does not match its folder).
    /// </summary>
    public static GalleryEntry? EntryFor(string path, byte[] content, DateTimeOffset at)
    {
        var parts = path.Split('/');
        if (parts.Length != 3) return null;
        try
        {
            if (parts[0] == BlobLayout.Datasets && parts[2] == BlobLayout.ManifestFileName)
            {
                var m = JobJson.FromUtf8<DatasetManifest>(content);
                if (!BlobNames.IsSafeId(m.BatchId, out _) || path != BlobLayout.DatasetManifest(m.BatchId)) return null;
                return new GalleryEntry { Path = path, At = at, Count = m.Items.Count, Batch = m with { Items = m.Items.Take(MaxItems).ToList() } };
            }
            if (parts[0] == BlobLayout.Datasets && IsGridFile(parts[2]))
            {
                var g = JsonSerializer.Deserialize<MixManifest>(content, MixManifest.Json);
                return g is not null && MixManifest.IsGridKind(g.Kind) ? new GalleryEntry { Path = path, At = at, Grid = g } : null;
            }
            if (parts[0] == BlobLayout.Results && parts[2] == BlobLayout.ResultFileName)
            {
                var r = JobJson.FromUtf8<JobResult>(content);
                if (!BlobNames.IsSafeId(r.JobId, out _) || path != BlobLayout.ResultDocument(r.JobId)) return null;
                var images = r.Outputs.Where(o => o.ContentType.StartsWith("image/", StringComparison.Ordinal)).Take(MaxOutputs).ToList();
                return new GalleryEntry { Path = path, At = at, Count = r.Outputs.Count, Result = r with { Outputs = images } };
            }
        }
        catch (JsonException)
        {
            // a document being rewritten or of another schema is not indexed
        }
        return null;
    }

    /// <summary>Whether a path names a document the index holds (by name only; the content decides in <see cref="EntryFor"/>).</summary>
    public static bool IsDocumentPath(string path)
    {
        var parts = path.Split('/');
        return parts.Length == 3 && (parts[0] == BlobLayout.Datasets ? parts[2] == BlobLayout.ManifestFileName || IsGridFile(parts[2]) : parts[0] == BlobLayout.Results && parts[2] == BlobLayout.ResultFileName);
    }

    /// <summary>A mixing grid's manifest file name (mix-&lt;range&gt;.json).</summary>
    public static bool IsGridFile(string name) => name.StartsWith("mix-", StringComparison.Ordinal) && name.EndsWith(".json", StringComparison.Ordinal);

    /// <summary>
    /// Entries from a full listing of datasets/ and results/ (the cost the index avoids): the newest
    /// <paramref name="maxPerKind"/> batches, grids and results by last-modified time, each document read once.
    /// </summary>
    public static async Task<IReadOnlyList<GalleryEntry>> ScanAsync(IBlobStore store, int maxPerKind, CancellationToken cancellationToken = default)
    {
        var manifests = new List<BlobProperties>();
        var grids = new List<BlobProperties>();
        var results = new List<BlobProperties>();
        await foreach (var b in store.ListAsync(BlobLayout.Datasets + "/", cancellationToken))
        {
            var parts = b.Path.Split('/');
            if (parts.Length != 3 || !BlobNames.IsSafeId(parts[1], out _)) continue;
            if (parts[2] == BlobLayout.ManifestFileName) manifests.Add(b);
            else if (IsGridFile(parts[2])) grids.Add(b);
        }
        await foreach (var b in store.ListAsync(BlobLayout.Results + "/", cancellationToken))
            if (b.Path.Count(c => c == '/') == 2 && b.Path.EndsWith("/" + BlobLayout.ResultFileName, StringComparison.Ordinal)) results.Add(b);
        var entries = new List<GalleryEntry>();
        foreach (var b in new[] { manifests, grids, results }.SelectMany(k => k.OrderByDescending(x => x.LastModified).Take(maxPerKind)))
        {
            if (await store.GetBytesAsync(b.Path, cancellationToken) is { } doc && EntryFor(b.Path, doc.Bytes, b.LastModified) is { } e) entries.Add(e);
        }
        return entries;
    }
}
