using System.Diagnostics;
using SkiaSharp;

namespace Pipeline.Imaging.Tests;

/// <summary>
/// Deterministic mutation fuzzing of the decoder over thousands of damaged JPEG/PNG/WebP/GIF files: every file must end
/// in Success or a typed rejection, within a per-file timeout, with managed allocation bounded by the limits and no
/// runaway native memory. Each mutation's <see cref="Random"/> seed is a stable function of the seed file's name and the
/// mutation index (<see cref="MutationSeed"/>, FNV-1a: not <see cref="HashCode"/>, which .NET randomises per process),
/// so the corpus is the same in every run; a failure message names the file, index and seed, so it reproduces exactly
/// with <c>Mutate(seedFile, new Random(seed))</c>.
/// </summary>
[Collection(nameof(MemoryMeasuringCollection))]
public class DecoderFuzzTests(ITestOutputHelper output)
{
    private const int MutationsPerSeed = 1000;
    private static readonly TimeSpan PerFileTimeout = TimeSpan.FromSeconds(10);
    private static readonly DecodeLimits Limits = new() { MaxPixels = 1_000_000, MaxSide = 4096, MinSide = 8, MaxBytes = 4 * 1024 * 1024 };
    private static readonly HashSet<string> KnownCodes =
        [RejectionCodes.TooLarge, RejectionCodes.NotAnImage, RejectionCodes.UnsupportedFormat, RejectionCodes.DimensionsTooLarge, RejectionCodes.TooSmall, RejectionCodes.Corrupt];

    private static IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        var img = Synth.Smooth(128, 96, seed: 3);
        yield return ("jpeg_q90", img.EncodeJpeg(90));
        yield return ("png_rgb", img.EncodePng());
        yield return ("webp_lossy", img.EncodeWebp(80));
        using (var bmp = img.ToSKBitmap())
        using (var pix = bmp.PeekPixels()!)
        using (var data = pix.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 75))!)
            yield return ("webp_lossless", data.ToArray());
        var frame = new byte[64 * 48];
        for (int i = 0; i < frame.Length; i++) frame[i] = (byte)(i * 7);
        yield return ("gif_2frames", Synth.Gif(64, 48, frame, frame.Reverse().ToArray()));
    }

    [Fact]
    public async Task Mutated_files_never_crash_hang_or_escape_typed_rejections()
    {
        long rssBaseline = Process.GetCurrentProcess().WorkingSet64;
        long peakRss = rssBaseline, maxAllocated = 0;
        var outcomes = new Dictionary<string, int>();
        int total = 0;
        // Managed allocation bound: input copy + RGBA decode + RGB + upright copy at the pixel limit, plus slack.
        long allocationBound = Limits.MaxBytes * 2 + Limits.MaxPixels * 4 + Limits.MaxPixels * 3 * 2 + 8 * 1024 * 1024;
        foreach (var (name, seed) in Seeds())
        {
            Assert.True(ImageDecoder.Decode(seed, Limits).IsSuccess, $"seed {name} must decode before mutating it");
            var seedOutcomes = new Dictionary<string, int>();
            for (int i = 0; i < MutationsPerSeed; i++)
            {
                int rngSeed = MutationSeed(name, i);
                var (bytes, mutation) = Mutate(seed, new Random(rngSeed));
                string what = $"{mutation}; Random seed {rngSeed}";
                var task = Task.Run(() =>
                {
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    var r = ImageDecoder.Decode(bytes, Limits);
                    return (r, GC.GetAllocatedBytesForCurrentThread() - before);
                });
                (ImageResult<DecodedImage> Result, long Allocated) done;
                try
                {
                    done = await task.WaitAsync(PerFileTimeout, TestContext.Current.CancellationToken);
                }
                catch (TimeoutException)
                {
                    Assert.Fail($"{name} #{i} ({what}): decode did not finish within {PerFileTimeout.TotalSeconds} s");
                    throw;
                }
                catch (Exception e)
                {
                    Assert.Fail($"{name} #{i} ({what}): threw {e}");
                    throw;
                }
                var (result, allocated) = done;
                maxAllocated = Math.Max(maxAllocated, allocated);
                Assert.True(allocated <= allocationBound, $"{name} #{i} ({what}): allocated {allocated:N0} bytes");
                string outcome = result.IsSuccess ? "success" : result.Rejection!.Code;
                Assert.True(result.IsSuccess || KnownCodes.Contains(outcome), $"{name} #{i} ({what}): unknown rejection {outcome}");
                if (result.IsSuccess)
                {
                    var img = result.Value!.Image;
                    Assert.True((long)img.Width * img.Height <= Limits.MaxPixels, $"{name} #{i} ({what}): decoded {img.Width}x{img.Height} past the pixel limit");
                }
                seedOutcomes[outcome] = seedOutcomes.GetValueOrDefault(outcome) + 1;
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                total++;
                if (i % 50 == 0) peakRss = Math.Max(peakRss, Process.GetCurrentProcess().WorkingSet64);
            }
            output.WriteLine($"{name} ({seed.Length} B): " + string.Join(", ", seedOutcomes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}")));
            // The mutator must actually break files: a fuzz run where everything decodes tested nothing.
            Assert.True(seedOutcomes.GetValueOrDefault("success") < MutationsPerSeed * 0.9, $"{name}: mutations hardly broke anything");
        }
        output.WriteLine($"{total} files; max managed allocation per decode {maxAllocated:N0} B; RSS {rssBaseline >> 20} MB -> peak {peakRss >> 20} MB");
        Assert.True(peakRss - rssBaseline < 512L * 1024 * 1024, $"RSS grew by {(peakRss - rssBaseline) >> 20} MB");
        Assert.True(outcomes.ContainsKey(RejectionCodes.Corrupt));
        Assert.True(outcomes.ContainsKey(RejectionCodes.DimensionsTooLarge), "header patches should produce dimension bombs");
    }

    [Fact]
    public void Mutation_seeds_are_the_same_in_every_process()
    {
        // Pinned values (FNV-1a 32 of "jpeg_q90#0" / "gif_2frames#999", top bit cleared, computed independently):
        // the corpus must not go back to a per-process seed such as HashCode.Combine.
        Assert.Equal(569921757, MutationSeed("jpeg_q90", 0));
        Assert.Equal(793029652, MutationSeed("gif_2frames", 999));
    }

    /// <summary>
    /// The <see cref="Random"/> seed of mutation <paramref name="index"/> of seed file <paramref name="name"/>: 32-bit FNV-1a
    /// over the UTF-8 bytes of "name#index", made non-negative. Stable across processes, machines and .NET versions.
    /// </summary>
    internal static int MutationSeed(string name, int index)
    {
        uint h = 2166136261;
        foreach (byte b in System.Text.Encoding.UTF8.GetBytes($"{name}#{index}"))
            h = unchecked((h ^ b) * 16777619);
        return (int)(h & 0x7FFF_FFFF);
    }

    /// <summary>One deterministic mutation; half the positions land in the first 512 bytes, where the headers live.</summary>
    private static (byte[] Bytes, string What) Mutate(byte[] seed, Random rng)
    {
        var b = (byte[])seed.Clone();
        int Pos(int len) => rng.Next(2) == 0 ? rng.Next(Math.Min(512, len)) : rng.Next(len);
        int kind = rng.Next(9);
        switch (kind)
        {
            case 0:
            {
                int n = 1 + rng.Next(16);
                for (int k = 0; k < n; k++) b[Pos(b.Length)] ^= (byte)(1 << rng.Next(8));
                return (b, $"flip {n} bits");
            }
            case 1:
            {
                int at = Pos(b.Length), n = 1 + rng.Next(64);
                for (int k = at; k < Math.Min(b.Length, at + n); k++) b[k] = (byte)rng.Next(256);
                return (b, $"random bytes at {at}+{n}");
            }
            case 2:
            {
                int at = rng.Next(b.Length);
                return (b[..at], $"truncate at {at}");
            }
            case 3:
            {
                int at = Pos(b.Length);
                var ins = new byte[1 + rng.Next(256)];
                rng.NextBytes(ins);
                return ([.. b.AsSpan(0, at), .. ins, .. b.AsSpan(at)], $"insert {ins.Length} at {at}");
            }
            case 4:
            {
                int at = Pos(b.Length), n = Math.Min(b.Length - at, 1 + rng.Next(128));
                return ([.. b.AsSpan(0, at), .. b.AsSpan(at + n)], $"delete {n} at {at}");
            }
            case 5:
            {
                int at = Pos(b.Length), n = Math.Min(b.Length - at, 1 + rng.Next(512));
                return ([.. b.AsSpan(0, at + n), .. b.AsSpan(at, n), .. b.AsSpan(at + n)], $"duplicate {n} at {at}");
            }
            case 6:
            {
                byte[] interesting = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE];
                int n = 1 + rng.Next(8);
                for (int k = 0; k < n; k++) b[rng.Next(Math.Min(256, b.Length))] = interesting[rng.Next(interesting.Length)];
                return (b, $"interesting bytes x{n} in header");
            }
            case 7:
            {
                // Big 16/32-bit values where dimensions usually live (SOF, IHDR, VP8 headers, GIF screen).
                int at = rng.Next(Math.Min(200, b.Length - 4));
                if (rng.Next(2) == 0) { b[at] = 0xFF; b[at + 1] = (byte)rng.Next(256); }
                else { b[at] = 0x00; b[at + 1] = 0x01; b[at + 2] = 0x86; b[at + 3] = 0xA0; }
                return (b, $"large value at {at}");
            }
            default:
            {
                // Splice: the tail of the file replaced by an earlier part (repeated markers/chunks).
                int cut = rng.Next(b.Length), from = rng.Next(cut + 1);
                return ([.. b.AsSpan(0, cut), .. b.AsSpan(from, Math.Min(b.Length - from, 4096))], $"splice {from}->{cut}");
            }
        }
    }
}

/// <summary>Tests that read process RSS run alone, so other tests' allocations do not blur the measurement.</summary>
[CollectionDefinition(nameof(MemoryMeasuringCollection), DisableParallelization = true)]
public sealed class MemoryMeasuringCollection;
