using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Worker.Jobs;
using Pipeline.Worker.Jobs.Shared;
using SkiaSharp;

namespace Pipeline.Worker.Tests.Jobs;

/// <summary>Test helpers for augmentation batches: run one, read its items, compare pixels, check its thumbnails.</summary>
internal static class DatasetBatches
{
    public sealed record Batch(DatasetManifest Manifest, JobContext Context, IReadOnlyList<byte[]> Pngs);

    public static async Task<Batch> RunAsync(IJobHandler handler, IBlobStore store, ModelCache models, AugmentationBatchJob job, CancellationToken ct)
    {
        var context = new JobContext(JobEnvelope.Create(job, "test"), store, models, 1, maxBatch: 4);
        await handler.RunAsync(context, ct);
        var manifest = await store.GetJsonAsync<DatasetManifest>(BlobLayout.DatasetManifest(job.BatchId), ct)
                       ?? throw new InvalidOperationException($"batch {job.BatchId} wrote no manifest");
        var pngs = new List<byte[]>();
        foreach (var item in manifest.Items) pngs.Add((await store.GetBytesAsync(item.Path, ct))!.Value.Bytes);
        return new Batch(manifest, context, pngs);
    }

    /// <summary>Decoded RGB bytes (row-major) and size of an encoded image.</summary>
    public static (byte[] Rgb, int Width, int Height) Pixels(byte[] encoded)
    {
        using var bmp = SKBitmap.Decode(encoded) ?? throw new InvalidDataException("not a decodable image");
        var rgb = new byte[bmp.Width * bmp.Height * 3];
        for (int y = 0, o = 0; y < bmp.Height; y++)
            for (int x = 0; x < bmp.Width; x++, o += 3)
            {
                var c = bmp.GetPixel(x, y);
                (rgb[o], rgb[o + 1], rgb[o + 2]) = (c.Red, c.Green, c.Blue);
            }
        return (rgb, bmp.Width, bmp.Height);
    }

    /// <summary>Mean absolute difference of two same-size encoded images in 8-bit levels.</summary>
    public static double MeanAbsDiff(byte[] a, byte[] b)
    {
        var (pa, wa, ha) = Pixels(a);
        var (pb, wb, hb) = Pixels(b);
        Assert.Equal((wa, ha), (wb, hb));
        return pa.Zip(pb, (x, y) => Math.Abs(x - y)).Average();
    }

    /// <summary>Mean absolute difference of the per-channel means of <paramref name="block"/>-px blocks of two same-size images.</summary>
    public static double BlockMeanAbsDiff(byte[] a, byte[] b, int block)
    {
        var (pa, w, h) = Pixels(a);
        var (pb, wb, hb) = Pixels(b);
        Assert.Equal((w, h), (wb, hb));
        var diffs = new List<double>();
        for (int by = 0; by + block <= h; by += block)
            for (int bx = 0; bx + block <= w; bx += block)
                for (int c = 0; c < 3; c++)
                {
                    double sa = 0, sb = 0;
                    for (int y = by; y < by + block; y++)
                        for (int x = bx; x < bx + block; x++)
                        {
                            sa += pa[(y * w + x) * 3 + c];
                            sb += pb[(y * w + x) * 3 + c];
                        }
                    diffs.Add(Math.Abs(sa - sb) / (block * block));
                }
        return diffs.Average();
    }

    /// <summary>Every item has a decodable thumbnail of the right size and content, all written before the manifest.</summary>
    public static async Task AssertThumbnailsAsync(IBlobStore store, Batch batch, CancellationToken ct)
    {
        var manifest = batch.Manifest;
        var outputs = batch.Context.Outputs.Select(o => o.Path).ToList();
        Assert.Equal(BlobLayout.DatasetManifest(manifest.BatchId), outputs[^1]);
        for (int i = 0; i < manifest.Items.Count; i++)
        {
            var item = manifest.Items[i];
            Assert.Equal(BlobLayout.DatasetItem(manifest.BatchId, $"thumbs/{i:D5}.jpg"), item.Thumbnail);
            Assert.Contains(item.Thumbnail, outputs);
            Assert.True(outputs.IndexOf(item.Thumbnail!) < outputs.Count - 1, "thumbnail written after the manifest");
            var thumb = (await store.GetBytesAsync(item.Thumbnail!, ct))!.Value.Bytes;
            Assert.True(thumb is [0xFF, 0xD8, ..], "thumbnail is not a JPEG");
            var (_, tw, th) = Pixels(thumb);
            var (_, w, h) = Pixels(batch.Pngs[i]);
            Assert.True(Math.Max(tw, th) <= Thumbnails.MaxSide, $"thumbnail {tw}x{th} is over {Thumbnails.MaxSide} px");
            Assert.Equal(Thumbnails.SizeOf(w, h), (tw, th));
            // Same size: a JPEG of exactly the item's pixels (JPEG loss on noisy 16 px test images is too large for a
            // pixel tolerance to mean anything, so compare with Skia's encoding of the decoded item at the same quality).
            if ((tw, th) == (w, h))
            {
                var (itemRgb, _, _) = Pixels(batch.Pngs[i]);
                var reference = new Pipeline.Imaging.RgbImage(w, h, itemRgb).EncodeJpeg(Thumbnails.JpegQuality);
                Assert.True(Pixels(reference).Rgb.SequenceEqual(Pixels(thumb).Rgb), $"thumbnail {i} is not its item's pixels");
            }
        }
    }
}
