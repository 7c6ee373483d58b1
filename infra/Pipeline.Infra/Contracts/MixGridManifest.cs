using System.Text.Json;
using System.Text.Json.Serialization;

namespace Pipeline.Infra.Contracts;

/// <summary>
/// datasets/&lt;batchId&gt;/mix-&lt;range&gt;.json: what a gallery needs to show a style-mixing grid without reading anything
/// else: the grid image, every source and mixed cell as its own PNG plus its rectangle in the grid, and the
/// seeds/truncation/range that made it. The worker writes it (`pipeline mix --publish`), the functions' gallery reads
/// it: one record for both, so the two cannot drift. Format documented in docs/stylegan1.md.
/// </summary>
public sealed record MixManifest
{
    public const string KindName = "stylegan1.style-mixing-grid";

    /// <summary>The same layout from a StyleGAN2 generator (ranges over its per-layer latents).</summary>
    public const string KindNameStyleGan2 = "stylegan2.style-mixing-grid";

    /// <summary>Whether a manifest's kind is a mixing grid this schema describes.</summary>
    public static bool IsGridKind(string? kind) => kind is KindName or KindNameStyleGan2;

    public string Kind { get; init; } = KindName;
    public int Version { get; init; } = 1;
    public required DateTimeOffset CreatedUtc { get; init; }
    public required MixModelInfo Model { get; init; }
    public required int Step { get; init; }
    public required int Resolution { get; init; }
    public required MixRangeInfo Range { get; init; }
    public required double Truncation { get; init; }
    /// <summary>Seed of the noise maps when <see cref="Noise"/> is <see cref="NoiseSeeded"/>; -1 when no seed was involved.</summary>
    public required long NoiseSeed { get; init; }

    /// <summary>
    /// Where the per-pixel noise came from: <see cref="NoiseSeeded"/> (v1: maps drawn from <see cref="NoiseSeed"/>) or
    /// <see cref="NoiseStoredBuffers"/> (v2: the checkpoint's noises.noise_* buffers). Absent in manifests written
    /// before it existed, which were all v1 and seeded.
    /// </summary>
    public string? Noise { get; init; }

    public const string NoiseSeeded = "seeded";
    public const string NoiseStoredBuffers = "checkpoint-buffers";
    public required MixMeanStyleInfo MeanStyle { get; init; }
    public required int Rows { get; init; }
    public required int Columns { get; init; }
    public required MixGridImage Grid { get; init; }

    /// <summary>Row sources (A): supply every level outside the range.</summary>
    public required IReadOnlyList<MixSource> RowSources { get; init; }

    /// <summary>Column sources (B): supply the levels inside the range.</summary>
    public required IReadOnlyList<MixSource> ColumnSources { get; init; }

    /// <summary>Mixed images, row-major.</summary>
    public required IReadOnlyList<MixCell> Cells { get; init; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

public sealed record MixModelInfo(string Family, string File, long Bytes, string Sha256, int CodeDim, int Levels, bool TrainedStepDetected);

/// <summary>Name (coarse/middle/fine or lo-hi), inclusive level indices actually used (clipped to Step), and their pixel sizes.</summary>
public sealed record MixRangeInfo(string Name, int Lo, int Hi, IReadOnlyList<int> Resolutions)
{
    /// <summary>StyleGAN2 only: the W+ rows (latent indices) taken from the column source; two per level.</summary>
    public IReadOnlyList<int>? LatentRows { get; init; }
}

public sealed record MixMeanStyleInfo(long Seed, int Samples);

/// <summary>Rectangle of a tile inside the grid PNG, in pixels.</summary>
public sealed record MixRect(int X, int Y, int Width, int Height);

public sealed record MixGridImage(string Image, int Width, int Height, int Padding, string Layout);

public sealed record MixSource(int Index, long Seed, string Image, MixRect Rect);

public sealed record MixCell(int Row, int Column, long RowSeed, long ColumnSeed, string Range, int RangeLo, int RangeHi, double Truncation, long NoiseSeed, string Image, MixRect Rect);
