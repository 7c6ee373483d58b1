using Pipeline.Infra.Contracts;
using Pipeline.Infra.Storage;

namespace Pipeline.Infra.Queue;

/// <summary>What publishing a job did.</summary>
public enum PublishOutcome
{
    /// <summary>New job: status written as queued, message sent.</summary>
    Enqueued,
    /// <summary>Status was already queued (an earlier attempt may have died before sending): sent again, Service Bus drops the duplicate.</summary>
    Resent,
    /// <summary>The job already ran or runs: nothing sent.</summary>
    AlreadyKnown,
}

/// <summary>
/// Turns a job envelope into status/&lt;jobId&gt;.json (queued) plus one queue message whose MessageId is the
/// deterministic job id. Status first, then send: a crash in between leaves a queued status that the retry resends.
/// Used by the functions (queue per job kind) and by the one-machine demo (one in-process queue).
/// </summary>
public sealed class JobPublisher(IBlobStore store, Func<JobKind, IJobQueue> queueFor, TimeProvider time)
{
    /// <summary>Publishes one job (idempotent per job id).</summary>
    public async Task<PublishOutcome> PublishAsync(JobEnvelope job, CancellationToken cancellationToken)
    {
        var statusPath = BlobLayout.StatusDocument(job.JobId);
        var status = new JobStatus { JobId = job.JobId, Kind = job.Kind, State = JobState.Queued, UpdatedAt = time.GetUtcNow(), Message = "queued by " + (job.Source ?? "functions") };
        var outcome = PublishOutcome.Enqueued;
        if (!await store.TryCreateAsync(statusPath, JobJson.ToUtf8(status), "application/json", cancellationToken: cancellationToken))
        {
            var existing = await store.GetJsonAsync<JobStatus>(statusPath, cancellationToken);
            if (existing is not null && existing.State != JobState.Queued) return PublishOutcome.AlreadyKnown;
            outcome = PublishOutcome.Resent;
        }
        await queueFor(job.Kind).SendAsync(new QueueMessage
        {
            MessageId = job.JobId,
            Body = job.ToUtf8(),
            ContentType = JobEnvelope.ContentType,
            Subject = job.Kind.ToString(),
            ApplicationProperties = new Dictionary<string, object?> { ["kind"] = job.Kind.ToString(), ["source"] = job.Source },
        }, cancellationToken);
        return outcome;
    }
}
