using System.Globalization;
using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Uploads;

/// <summary>
/// Derives the jobs an upload asks for. The first folder of the upload name picks the default
/// (<c>selfies/</c> → Council selfie→anime, <c>project/</c> → StyleGAN2 projection, <c>labels/</c> → pix2pixHD;
/// anything else is treated as a selfie); blob metadata <c>job</c> ("translate", "project", "labels", or a comma
/// list) overrides it, and <c>outputs</c>, <c>seed</c>, <c>steps</c>, <c>init</c> (projection start: encoder, mean, auto)
/// set parameters within limits.
/// </summary>
public static class UploadJobPlanner
{
    /// <summary>What the planner decided, or why it could not.</summary>
    public sealed record Plan(IReadOnlyList<JobSpec> Jobs, bool NeedsFace, string? Error);

    /// <summary>Plans the jobs for <paramref name="input"/> (uploads/ path + ETag).</summary>
    public static Plan For(BlobRef input, string uploadId, IReadOnlyDictionary<string, string>? metadata, UploadValidationOptions options)
    {
        var meta = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase);
        var kinds = meta.TryGetValue("job", out var requested)
            ? requested.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(k => k.ToLowerInvariant()).Distinct().ToList()
            : [DefaultKind(uploadId)];
        if (kinds.Count == 0) return Fail("metadata 'job' is empty; use translate, project or labels");

        if (!TryInt(meta, "outputs", options.DefaultTranslationOutputs, 1, options.MaxTranslationOutputs, out var outputs, out var err)) return Fail(err);
        if (!TryInt(meta, "steps", 0, 1, Math.Min(options.MaxProjectionSteps, JobLimits.MaxProjectionSteps), out var steps, out err)) return Fail(err);
        // Unset steps stay null: the worker picks 100 when it starts from the model's encoder and 1000 from the mean.
        int? projectionSteps = meta.ContainsKey("steps") ? steps : null;
        string? init = meta.TryGetValue("init", out var initText) ? initText.Trim().ToLowerInvariant() : null;
        if (init is not (null or "auto" or "encoder" or "mean")) return Fail($"metadata 'init' must be encoder, mean or auto, got '{Trim(initText!)}'");
        if (init == "auto") init = null;
        long seed = 0;
        if (meta.TryGetValue("seed", out var s) && !long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out seed))
            return Fail($"metadata 'seed' must be an integer, got '{Trim(s)}'");

        var jobs = new List<JobSpec>();
        bool needsFace = false;
        foreach (var kind in kinds)
        {
            switch (kind)
            {
                case "translate" or "selfie" or "anime":
                    needsFace = true;
                    jobs.Add(new TranslationJob
                    {
                        Model = new BlobRef(options.SelfieModel),
                        Variant = TranslationVariant.CouncilSelfieToAnime,
                        Input = input,
                        Outputs = outputs,
                        Seed = seed,
                        // KID needs two images at least; one output is simply not measured.
                        ReferenceFeatures = options.SelfieReferenceFeatures is { Length: > 0 } f && outputs >= 2 ? new BlobRef(f) : null,
                    });
                    break;
                case "labels" or "pix2pixhd":
                    jobs.Add(new TranslationJob
                    {
                        Model = new BlobRef(options.LabelModel),
                        Variant = TranslationVariant.Pix2PixHdLabelToImage,
                        Input = input,
                        Outputs = 1,
                        Seed = seed,
                        CropFace = false,
                    });
                    break;
                case "project" or "projection":
                    // metadata align=false: project as is (not a face, or already aligned).
                    jobs.Add(new ProjectionJob { Model = new BlobRef(options.ProjectionModel), Input = input, Steps = projectionSteps, Init = init, Seed = seed, AlignFace = !meta.TryGetValue("align", out var align) || !string.Equals(align, "false", StringComparison.OrdinalIgnoreCase) });
                    break;
                default:
                    return Fail($"metadata 'job' names an unknown job '{Trim(kind)}'; use translate, project or labels");
            }
        }
        return new Plan(jobs, needsFace, null);
    }

    private static string DefaultKind(string uploadId)
    {
        var slash = uploadId.IndexOf('/', StringComparison.Ordinal);
        var folder = slash > 0 ? uploadId[..slash].ToLowerInvariant() : "";
        return folder switch
        {
            "project" or "projection" or "projections" => "project",
            "labels" or "labelmaps" => "labels",
            _ => "translate",
        };
    }

    private static bool TryInt(Dictionary<string, string> meta, string key, int fallback, int min, int max, out int value, out string error)
    {
        error = "";
        value = fallback;
        if (!meta.TryGetValue(key, out var text)) return true;
        if (int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value) && value >= min && value <= max) return true;
        error = $"metadata '{key}' must be an integer in {min}..{max}, got '{Trim(text)}'";
        return false;
    }

    private static string Trim(string s) => s.Length > 40 ? s[..40] + "…" : s;

    private static Plan Fail(string error) => new([], false, error);
}
