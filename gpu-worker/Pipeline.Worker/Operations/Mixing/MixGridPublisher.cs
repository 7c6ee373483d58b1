using Pipeline.Engine.StyleGan1;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Worker.Operations.Mixing;

/// <summary>Publishing of a rendered mixing grid (<see cref="MixGridRenderer"/>) to the blob store, where the gallery reads it.</summary>
public static class MixGridPublisher
{
    /// <summary>
    /// Uploads a written grid to datasets/&lt;batchId&gt;/ (images first, the manifest last so it marks completion);
    /// the manifest's relative paths stay valid there. Returns the manifest's blob path.
    /// </summary>
    public static async Task<string> PublishAsync(IBlobStore store, string batchId, MixManifest manifest, string manifestPath, CancellationToken ct)
    {
        var dir = Path.GetDirectoryName(manifestPath)!;
        var images = new[] { manifest.Grid.Image }
            .Concat(manifest.RowSources.Select(x => x.Image))
            .Concat(manifest.ColumnSources.Select(x => x.Image))
            .Concat(manifest.Cells.Select(x => x.Image));
        foreach (var rel in images)
        {
            var bytes = await File.ReadAllBytesAsync(Path.Combine(dir, rel), ct);
            await store.PutBytesAsync(BlobLayout.DatasetItem(batchId, rel), bytes, new BlobPutOptions { ContentType = "image/png" }, ct);
        }
        var blob = BlobLayout.DatasetItem(batchId, Path.GetFileName(manifestPath));
        await store.PutBytesAsync(blob, await File.ReadAllBytesAsync(manifestPath, ct), new BlobPutOptions { ContentType = "application/json" }, ct);
        // The gallery reads its index, not a listing: a published grid must be entered there to be seen.
        await Pipeline.Infra.Indexes.GalleryIndex.RecordAsync(store, [blob], ct);
        return blob;
    }
}
