namespace Pipeline.Imaging.Tests;

public class CappedReadTests
{
    /// <summary>A stream that cannot seek and produces zeros: the shape of a large upload whose length is unknown.</summary>
    private sealed class EndlessZeros(long length) : Stream
    {
        private long _left = length;
        public long Served { get; private set; }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, _left);
            Array.Clear(buffer, offset, n);
            _left -= n;
            Served += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Oversized_streams_are_rejected_without_reading_them_whole()
    {
        var limits = new DecodeLimits { MaxBytes = 1 << 20 };
        var endless = new EndlessZeros(50L << 20);
        var r = await CappedRead.ReadAsync(endless, limits, TestContext.Current.CancellationToken);
        Assert.Equal(RejectionCodes.TooLarge, r.Rejection?.Code);
        Assert.True(endless.Served <= limits.MaxBytes + 81920, $"read {endless.Served:N0} bytes");
        using var seekable = new MemoryStream(new byte[(1 << 20) + 1]);
        Assert.Equal(RejectionCodes.TooLarge, (await CappedRead.ReadAsync(seekable, limits, TestContext.Current.CancellationToken)).Rejection?.Code);
        Assert.Equal(0, seekable.Position);
    }

    [Fact]
    public void Truncation_is_caught_even_when_decoding_reduced()
    {
        var jpeg = Synth.Smooth(2400, 1800).EncodeJpeg(90);
        Assert.True(ImageDecoder.Decode(jpeg, null, 512).IsSuccess);
        Assert.Equal(RejectionCodes.Corrupt, ImageDecoder.Decode(jpeg.AsSpan(0, jpeg.Length * 3 / 4), null, 512).Rejection?.Code);
    }
}
