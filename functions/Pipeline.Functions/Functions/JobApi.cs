using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using Pipeline.Functions.Http;
using Pipeline.Functions.Services;
using Pipeline.Infra.Queue;
using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;
using Pipeline.Infra.Uploads;

namespace Pipeline.Functions;

/// <summary>
/// The HTTP functions SubmitJob, JobStatus, JobResults. Every call is authorized first (<see cref="HttpAuth"/>),
/// inputs are validated like uploads, and answers are JSON (problem+json for errors with a machine-readable code).
/// </summary>
public sealed partial class JobApi(HttpAuth auth, UploadValidator validator, JobPublisher publisher, IBlobStore store, ILinkSigner links, IOptions<SasOptions> sasOptions)
{
    /// <summary>Function name of <see cref="SubmitAsync"/>.</summary>
    public const string SubmitJob = "SubmitJob";
    /// <summary>Function name of <see cref="StatusAsync"/>.</summary>
    public const string JobStatus = "JobStatus";
    /// <summary>Function name of <see cref="ResultsAsync"/>.</summary>
    public const string JobResults = "JobResults";

    private readonly SasOptions sas = sasOptions.Value;

    /// <summary>SubmitJob (POST api/jobs): an existing upload by name, or a new one inline (base64), plus job parameters.</summary>
    [Function(SubmitJob)]
    public async Task<IResult> SubmitAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "jobs")] HttpRequest request,
        CancellationToken cancellationToken) =>
        await auth.RunAsync(HttpTriggerRequest.From(request), async req =>
        {
            if (req.Method != "POST") return HttpTriggerResponse.Problem(405, "method_not_allowed", "Use POST with a JSON body.");
            var text = await req.ReadBodyAsync(cancellationToken);
            if (string.IsNullOrWhiteSpace(text)) return HttpTriggerResponse.Problem(400, UploadCodes.BadRequest, "The body must be a JSON object such as {\"upload\":\"selfies/me.jpg\",\"job\":\"translate\"}.");
            JsonObject body;
            try
            {
                body = JsonNode.Parse(text) as JsonObject ?? throw new JsonException("not an object");
            }
            catch (JsonException)
            {
                return HttpTriggerResponse.Problem(400, UploadCodes.BadRequest, "The body is not a JSON object.");
            }

            var name = JsonFields.GetString(body, "upload") ?? JsonFields.GetString(body, "name");
            if (!BlobNames.IsSafeRelative(name, out var why))
                return HttpTriggerResponse.Problem(400, UploadCodes.BadName, $"'upload' must name a blob under uploads/: {why}.");
            var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var key in new[] { "job", "outputs", "seed", "steps" })
                if (JsonFields.GetString(body, key) is { } value) metadata[key] = value;

            byte[] bytes;
            string etag;
            if (JsonFields.GetString(body, "image") is { } image)
            {
                if (image.Length / 4L * 3 > validator.Options.MaxBytes + 3)
                    return HttpTriggerResponse.Problem(413, Imaging.RejectionCodes.TooLarge, $"The image is over {validator.Options.MaxBytes:N0} bytes.");
                try { bytes = Convert.FromBase64String(image); }
                catch (FormatException) { return HttpTriggerResponse.Problem(400, UploadCodes.BadRequest, "'image' must be base64."); }
                // Check before storing so garbage never lands in uploads/.
                var pre = validator.Validate(new UploadCandidate(name!, null, bytes, metadata), "http");
                if (!pre.Accepted) return Rejected(pre);
                try
                {
                    var props = await store.PutBytesAsync(BlobLayout.Upload(name!), bytes,
                        new BlobPutOptions { ContentType = "application/octet-stream", Metadata = metadata, Conditions = BlobConditions.IfNotExists }, cancellationToken);
                    etag = props.ETag;
                }
                catch (BlobConditionFailedException)
                {
                    return HttpTriggerResponse.Problem(409, "upload_exists", $"uploads/{name} already exists; uploads are never overwritten. Choose another name.");
                }
            }
            else
            {
                var props = await store.GetPropertiesAsync(BlobLayout.Upload(name!), cancellationToken);
                if (props is null) return HttpTriggerResponse.Problem(404, "upload_not_found", $"uploads/{name} does not exist.");
                if (validator.PrecheckSize(name!, props.Length) is { } tooBig) return Rejected(tooBig);
                var got = await store.GetBytesAsync(BlobLayout.Upload(name!), cancellationToken);
                if (got is null) return HttpTriggerResponse.Problem(404, "upload_not_found", $"uploads/{name} does not exist.");
                (bytes, etag) = (got.Value.Bytes, got.Value.Properties.ETag);
            }

            var verdict = validator.Validate(new UploadCandidate(name!, etag, bytes, metadata), "http");
            if (!verdict.Accepted) return Rejected(verdict);
            var outcomes = await publisher.PublishManyAsync(verdict.Jobs, cancellationToken);
            var jobs = verdict.Jobs.Select((job, i) => (object)new { jobId = job.JobId, kind = job.Kind, outcome = outcomes[i].ToString().ToLowerInvariant() }).ToList();
            return HttpTriggerResponse.Json(202, new { upload = BlobLayout.Upload(name!), jobs, notes = verdict.Notes });
        });

    /// <summary>JobStatus (GET api/jobs/{jobId}): the status document of exactly that job.</summary>
    [Function(JobStatus)]
    public async Task<IResult> StatusAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "jobs/{jobId}")] HttpRequest request,
        string? jobId,
        CancellationToken cancellationToken) =>
        await auth.RunAsync(HttpTriggerRequest.From(request, ("jobId", jobId)), async req =>
        {
            if (CheckJobId(req, out var jobId) is { } bad) return bad;
            var status = await store.GetJsonAsync<Infra.Contracts.JobStatus>(BlobLayout.StatusDocument(jobId), cancellationToken);
            return status is null ? HttpTriggerResponse.Problem(404, "job_not_found", "No such job.") : HttpTriggerResponse.Json(200, status);
        });

    /// <summary>JobResults (GET api/jobs/{jobId}/results?ttl=minutes): read-only links that expire.</summary>
    [Function(JobResults)]
    public async Task<IResult> ResultsAsync(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "jobs/{jobId}/results")] HttpRequest request,
        string? jobId,
        CancellationToken cancellationToken) =>
        await auth.RunAsync(HttpTriggerRequest.From(request, ("jobId", jobId)), async req =>
        {
            if (CheckJobId(req, out var jobId) is { } bad) return bad;
            var lifetime = sas.DefaultLifetime;
            if (req.Query("ttl") is { } ttl)
            {
                if (!int.TryParse(ttl, out var minutes) || minutes < 1 || TimeSpan.FromMinutes(minutes) > sas.MaxLifetime)
                    return HttpTriggerResponse.Problem(400, UploadCodes.BadRequest, $"ttl must be whole minutes in 1..{sas.MaxLifetime.TotalMinutes:0}.");
                lifetime = TimeSpan.FromMinutes(minutes);
            }
            var status = await store.GetJsonAsync<Infra.Contracts.JobStatus>(BlobLayout.StatusDocument(jobId), cancellationToken);
            if (status is null) return HttpTriggerResponse.Problem(404, "job_not_found", "No such job.");
            if (status.State != JobState.Succeeded)
                return HttpTriggerResponse.Problem(409, "job_not_finished", $"The job is {status.State.ToString().ToLowerInvariant()}; results exist once it has succeeded.");
            var result = await store.GetJsonAsync<JobResult>(BlobLayout.ResultDocument(jobId), cancellationToken);
            if (result is null) return HttpTriggerResponse.Problem(404, "results_missing", "The job succeeded but its result document is missing.");
            var outputs = new List<object>();
            foreach (var o in result.Outputs)
            {
                // Only paths inside this job's results can be signed, whatever the document says.
                if (!o.Path.StartsWith(BlobLayout.ResultsPrefix(jobId), StringComparison.Ordinal)) continue;
                var url = await links.SignAsync(o.Path, lifetime, cancellationToken);
                outputs.Add(new { path = o.Path, contentType = o.ContentType, length = o.Length, sha256 = o.Sha256, role = o.Role, url });
            }
            return HttpTriggerResponse.Json(200, new { jobId, kind = result.Kind, expiresInSeconds = (int)lifetime.TotalSeconds, outputs, metrics = result.Metrics });
        });

    private static IResult? CheckJobId(HttpTriggerRequest req, out string jobId)
    {
        jobId = req.Param("jobId") ?? "";
        if (req.Method != "GET") return HttpTriggerResponse.Problem(405, "method_not_allowed", "Use GET.");
        return JobIdPattern().IsMatch(jobId) ? null : HttpTriggerResponse.Problem(400, "bad_job_id", "That is not a job id (expected e.g. trn- followed by 52 base32 characters).");
    }

    private static IResult Rejected(UploadVerdict v)
    {
        var status = v.Code switch
        {
            UploadCodes.BadName or UploadCodes.BadRequest => 400,
            Imaging.RejectionCodes.TooLarge => 413,
            _ => 422,
        };
        return HttpTriggerResponse.Problem(status, v.Code!, v.Message!);
    }

    [GeneratedRegex("^(prj|trn|aug|met)-[a-z2-7]{52}$")]
    private static partial Regex JobIdPattern();
}
