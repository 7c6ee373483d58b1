namespace Pipeline.Imaging;

/// <summary>Machine-readable rejection codes stored with a rejected upload (stable strings: dashboards and clients match on them).</summary>
public static class RejectionCodes
{
    /// <summary>The upload exceeds the byte cap.</summary>
    public const string TooLarge = "too_large";
    /// <summary>Empty, text, markup (SVG/HTML/XML) or random bytes.</summary>
    public const string NotAnImage = "not_an_image";
    /// <summary>A real image container we do not accept (HEIC, TIFF, BMP, ...).</summary>
    public const string UnsupportedFormat = "unsupported_format";
    /// <summary>The header declares more pixels or a longer side than allowed (decompression-bomb guard).</summary>
    public const string DimensionsTooLarge = "dimensions_too_large";
    /// <summary>Shorter side below the minimum.</summary>
    public const string TooSmall = "too_small";
    /// <summary>Truncated or damaged data, or the decoder did not report full success.</summary>
    public const string Corrupt = "corrupt";
    /// <summary>No face found where the job needs one.</summary>
    public const string NoFace = "no_face";
    /// <summary>Several comparable faces where the job wants exactly one.</summary>
    public const string MultipleFaces = "multiple_faces";
}

/// <summary>Why an upload was refused: a stable <see cref="Code"/> (see <see cref="RejectionCodes"/>) and a message for people.</summary>
public sealed record ImageRejection(string Code, string Message)
{
    public override string ToString() => $"{Code}: {Message}";
}

/// <summary>Either a value or a typed rejection; never both.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1000", Justification = "Factory methods read better than constructors at call sites.")]
public readonly record struct ImageResult<T>
    where T : class
{
    public T? Value { get; }
    public ImageRejection? Rejection { get; }

    private ImageResult(T? value, ImageRejection? rejection)
    {
        Value = value;
        Rejection = rejection;
    }

    public bool IsSuccess => Value is not null;

    public static ImageResult<T> Ok(T value) => new(value ?? throw new ArgumentNullException(nameof(value)), null);

    public static ImageResult<T> Reject(string code, string message) => new(null, new ImageRejection(code, message));

    public static ImageResult<T> Reject(ImageRejection rejection) => new(null, rejection);

    /// <summary>The value, or <see cref="ImageRejectedException"/> carrying the rejection.</summary>
    public T GetValueOrThrow() => Value ?? throw new ImageRejectedException(Rejection!);
}

/// <summary>Thrown by the convenience paths that prefer exceptions; carries the typed rejection.</summary>
public sealed class ImageRejectedException : Exception
{
    public ImageRejection Rejection { get; }

    public ImageRejectedException(ImageRejection rejection) : base(rejection.ToString()) => Rejection = rejection;

    public ImageRejectedException() : this(new ImageRejection(RejectionCodes.Corrupt, "rejected")) { }

    public ImageRejectedException(string message) : this(new ImageRejection(RejectionCodes.Corrupt, message)) { }

    public ImageRejectedException(string message, Exception inner) : base(message, inner) =>
        Rejection = new ImageRejection(RejectionCodes.Corrupt, message);
}
