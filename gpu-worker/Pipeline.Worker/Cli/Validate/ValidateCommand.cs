using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Uploads;

namespace Pipeline.Worker.Cli.Validate;

/// <summary>
/// `pipeline validate &lt;file...&gt;`: exactly the validation the ValidateUpload function runs (Pipeline.Infra's
/// UploadValidator), one JSON verdict per line; exit code 0 only when every file was accepted.
/// </summary>
public sealed class ValidateCommand : ICliCommand
{
    private static readonly JsonSerializerOptions Json = new(JobJson.Options) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Where verdict lines go (tests capture it); standard output by default.</summary>
    public TextWriter Output { get; set; } = Console.Out;

    public Command Build()
    {
        var files = new Argument<string[]>("files") { Arity = ArgumentArity.OneOrMore, Description = "Image files to validate like uploads." };
        var folder = new Option<string>("--folder")
        {
            Description = "uploads/ folder the files are treated as being in (selfies -> translate, project -> projection, labels -> pix2pixHD).",
            DefaultValueFactory = _ => "selfies",
        };
        var job = new Option<string?>("--job") { Description = "Jobs to derive, as the blob metadata 'job' would ask: translate, project, labels (comma list)." };
        var noFace = new Option<bool>("--no-face-check") { Description = "Skip the face check for selfie jobs." };
        var cascade = new Option<string?>("--face-cascade") { Description = "Haar cascade XML (default: Debian opencv-data's frontalface_alt2)." };
        var cmd = new Command("validate", "Validate images exactly as ValidateUpload does; prints one JSON verdict per file.")
        {
            files, folder, job, noFace, cascade,
        };
        cmd.SetAction(parse =>
        {
            var faces = parse.GetValue(noFace) ? null : FaceChecks.TryCreate(parse.GetValue(cascade));
            var validator = new UploadValidator(new UploadValidationOptions(), faces);
            var metadata = parse.GetValue(job) is { } j ? new Dictionary<string, string> { ["job"] = j } : null;
            var prefix = (parse.GetValue(folder) ?? "").Trim('/');
            bool allAccepted = true;
            foreach (var file in parse.GetValue(files) ?? [])
            {
                var verdict = ValidateFile(validator, file, prefix, metadata);
                allAccepted &= verdict.Accepted;
                Output.WriteLine(JsonSerializer.Serialize(verdict, Json));
            }
            return allAccepted ? 0 : 1;
        });
        return cmd;
    }

    /// <summary>The verdict of one local file; the upload id is "&lt;folder&gt;/&lt;file name&gt;", the ETag the content hash.</summary>
    public static FileVerdict ValidateFile(UploadValidator validator, string file, string folder, IReadOnlyDictionary<string, string>? metadata)
    {
        var uploadId = string.IsNullOrEmpty(folder) ? Path.GetFileName(file) : folder + "/" + Path.GetFileName(file);
        var info = new FileInfo(file);
        if (!info.Exists) return new FileVerdict(file, Unreadable(uploadId, "The file does not exist."));
        // Same order as the function: the size cap before reading the bytes.
        if (validator.PrecheckSize(uploadId, info.Length) is { } tooLarge) return new FileVerdict(file, tooLarge);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new FileVerdict(file, Unreadable(uploadId, ex.Message));
        }
        var etag = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
        return new FileVerdict(file, validator.Validate(new UploadCandidate(uploadId, etag, bytes, metadata), "cli"));
    }

    private static UploadVerdict Unreadable(string uploadId, string message) => UploadVerdict.Reject(uploadId, 0, "unreadable", message);
}

/// <summary>One printed line: the file and its verdict.</summary>
public sealed record FileVerdict(string File, [property: JsonIgnore] UploadVerdict Verdict)
{
    public bool Accepted => Verdict.Accepted;
    public string? Code => Verdict.Code;
    public string? Message => Verdict.Message;
    public string UploadId => Verdict.UploadId;
    public long Bytes => Verdict.Bytes;
    public UploadImageInfo? Image => Verdict.Image;
    public IReadOnlyList<JobEnvelope> Jobs => Verdict.Jobs;
    public IReadOnlyList<string> Notes => Verdict.Notes;
}
