namespace Pipeline.Imaging;

/// <summary>Reading an upload stream without trusting its size.</summary>
public static class CappedRead
{
    /// <summary>
    /// Reads at most <see cref="DecodeLimits.MaxBytes"/> + 1 bytes: an oversized upload is rejected (too_large) without
    /// buffering it, and a seekable stream with a known length is rejected before reading at all.
    /// </summary>
    public static async Task<ImageResult<byte[]>> ReadAsync(Stream stream, DecodeLimits? limits = null, CancellationToken cancellationToken = default)
    {
        limits ??= DecodeLimits.Default;
        if (stream.CanSeek && stream.Length - stream.Position > limits.MaxBytes)
            return ImageResult<byte[]>.Reject(RejectionCodes.TooLarge, $"The upload is {stream.Length - stream.Position:N0} bytes; the limit is {limits.MaxBytes:N0}.");
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        while (true)
        {
            int n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false);
            if (n == 0) break;
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limits.MaxBytes)
                return ImageResult<byte[]>.Reject(RejectionCodes.TooLarge, $"The upload exceeds the limit of {limits.MaxBytes:N0} bytes.");
        }
        return ImageResult<byte[]>.Ok(buffer.ToArray());
    }
}
