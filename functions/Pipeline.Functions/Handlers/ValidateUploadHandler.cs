using System.Text.Json.Nodes;
using Pipeline.Functions.Host;
using Pipeline.Functions.Services;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Infra.Uploads;

namespace Pipeline.Functions.Handlers;

/// <summary>
/// ValidateUpload: blob trigger on uploads/{name} (Event Grid source). Accepted uploads become queued jobs
/// (status/&lt;jobId&gt;.json + a message with MessageId = job id); rejected ones get rejected/&lt;uploadId&gt;.json.
/// The upload itself is never modified. Returns 200 for both outcomes; 5xx only when storage or the queue failed,
/// so the host retries (a retry is harmless: ids are deterministic and publishing is idempotent).
/// </summary>
public sealed class ValidateUploadHandler(UploadValidator validator, JobPublisher publisher, IBlobStore store, TimeProvider time, ILogger<ValidateUploadHandler> log)
{
    /// <summary>Binding name of the blob in ValidateUpload/function.json.</summary>
    public const string BindingName = "upload";

    /// <summary>Handles one invocation.</summary>
    public async Task<IResult> HandleAsync(Invocation invocation, CancellationToken cancellationToken)
    {
        var result = new InvocationResult();
        var name = Invocation.GetString(invocation.Metadata, "name")
            ?? NameFromUri(Invocation.GetString(invocation.Metadata, "Uri"))
            ?? throw new InvalidInvocationException("Metadata.name (the blob path under uploads/) is missing.");
        var properties = Invocation.Get(invocation.Metadata, "Properties") as JsonObject;
        var etag = ETagOf(properties);
        var metadata = ReadMetadata(Invocation.Get(invocation.Metadata, "Metadata") as JsonObject);

        // Size cap before the content is even base64-decoded: the declared length, then the payload length.
        var declared = LengthOf(properties);
        var content = Invocation.Get(invocation.Data, BindingName);
        var base64 = content is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
        var verdict = declared is long d ? validator.PrecheckSize(name, d) : null;
        if (verdict is null && base64 is not null && base64.Length / 4L * 3 > validator.Options.MaxBytes + 3)
            verdict = validator.PrecheckSize(name, base64.Length / 4L * 3);
        if (verdict is null)
        {
            if (base64 is null) throw new InvalidInvocationException($"Data.{BindingName} must be the blob content as a base64 string.");
            byte[] bytes;
            try { bytes = Convert.FromBase64String(base64); }
            catch (FormatException) { throw new InvalidInvocationException($"Data.{BindingName} is not valid base64."); }
            verdict = validator.Validate(new UploadCandidate(name, etag, bytes, metadata));
        }

        if (verdict.Accepted)
        {
            var outcomes = await publisher.PublishManyAsync(verdict.Jobs, cancellationToken);
            for (var i = 0; i < verdict.Jobs.Count; i++)
                result.Logs.Add($"{name}: {verdict.Jobs[i].Kind} job {verdict.Jobs[i].JobId} {outcomes[i].ToString().ToLowerInvariant()}");
            foreach (var note in verdict.Notes) result.Logs.Add($"{name}: {note}");
        }
        else
        {
            var path = RejectionPath(name, etag);
            var upload = new BlobRef(BlobNames.IsSafeRelative(name, out _) ? BlobLayout.Upload(name) : "uploads/(unsafe name)", etag);
            await store.PutJsonAsync(path, verdict.ToRejection(upload, time.GetUtcNow()), cancellationToken: cancellationToken);
            result.Logs.Add($"{name}: rejected ({verdict.Code}) {verdict.Message}");
            log.LogInformation("Upload {Upload} rejected: {Code}", name, verdict.Code);
        }
        result.ReturnValue = verdict;
        return result.ToResult();
    }

    /// <summary>rejected/&lt;uploadId&gt;.json; an unusable name is stored under a hash of itself so it cannot escape.</summary>
    public static string RejectionPath(string uploadId, string? etag) =>
        BlobNames.IsSafeRelative(uploadId, out _) && uploadId.Length < BlobNames.MaxRelativeLength - 5
            ? BlobLayout.Rejection(uploadId)
            : BlobLayout.Rejection(JobIds.ForParts("badname", null, uploadId, etag ?? ""));

    private static string? NameFromUri(string? uri)
    {
        if (uri is null || !Uri.TryCreate(uri, UriKind.Absolute, out var u)) return null;
        var path = Uri.UnescapeDataString(u.AbsolutePath.TrimStart('/'));
        var marker = BlobLayout.Uploads + "/";
        var at = path.IndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? null : path[(at + marker.Length)..];
    }

    private static string? ETagOf(JsonObject? properties)
    {
        var node = Invocation.Get(properties, "ETag") ?? Invocation.Get(properties, "Etag");
        var text = node switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonObject o => Invocation.GetString(o, "value"),
            _ => null,
        };
        return string.IsNullOrWhiteSpace(text) ? null : text.Trim('"');
    }

    private static long? LengthOf(JsonObject? properties)
    {
        foreach (var key in new[] { "ContentLength", "Length" })
            if (Invocation.Get(properties, key) is JsonValue v && v.TryGetValue<long>(out var n)) return n;
        return null;
    }

    private static Dictionary<string, string> ReadMetadata(JsonObject? meta)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (meta is null) return map;
        foreach (var (k, v) in meta)
            if (v is JsonValue jv) map[k] = jv.TryGetValue<string>(out var s) ? s : jv.ToJsonString();
        return map;
    }
}
