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
/// deterministic job id (Service Bus duplicate detection drops a resend). Status first, then send: a crash in between
/// leaves a queued status that the retry resends. Several jobs published together go to each queue as one batch.
/// Used by the functions (queue per job kind) and by the one-machine demo.
/// </summary>
public sealed class JobPublisher(IBlobStore store, Func<JobKind, IJobQueue> queueFor, TimeProvider time)
{
    /// <summary>Publishes one job (idempotent per job id).</summary>
    public async Task<PublishOutcome> PublishAsync(JobEnvelope job, CancellationToken cancellationToken) =>
        (await PublishManyAsync([job], cancellationToken))[0];

    /// <summary>Publishes several jobs (idempotent per job id): statuses first, then one batched send per queue. Outcomes in input order.</summary>
    public async Task<IReadOnlyList<PublishOutcome>> PublishManyAsync(IReadOnlyList<JobEnvelope> jobs, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        var outcomes = new PublishOutcome[jobs.Count];
        var toSend = new List<JobEnvelope>();
        for (var i = 0; i < jobs.Count; i++)
        {
            var job = jobs[i];
            var statusPath = BlobLayout.StatusDocument(job.JobId);
            var status = new JobStatus { JobId = job.JobId, Kind = job.Kind, State = JobState.Queued, UpdatedAt = time.GetUtcNow(), Message = "queued by " + (job.Source ?? "functions") };
            outcomes[i] = PublishOutcome.Enqueued;
            if (!await store.TryCreateAsync(statusPath, JobJson.ToUtf8(status), "application/json", cancellationToken: cancellationToken))
            {
                var existing = await store.GetJsonAsync<JobStatus>(statusPath, cancellationToken);
                if (existing is not null && existing.State != JobState.Queued)
                {
                    outcomes[i] = PublishOutcome.AlreadyKnown;
                    continue;
                }
                outcomes[i] = PublishOutcome.Resent;
            }
            if (!toSend.Any(j => j.JobId == job.JobId)) toSend.Add(job);
        }
        // The dashboard counts jobs from the job-state index: queued jobs enter it before their messages are sent.
        var now = time.GetUtcNow();
        // The status documents stay the record of truth: an index that could not be updated only skews the counts.
        try { await Indexes.JobStateIndex.RecordAsync(store, toSend.Select(j => new JobStatus { JobId = j.JobId, Kind = j.Kind, State = JobState.Queued, UpdatedAt = now }).ToList(), cancellationToken); }
        catch (Exception e) when (e is not OperationCanceledException) { System.Diagnostics.Trace.TraceWarning($"job-state index not updated: {e.Message}"); }
        foreach (var group in toSend.GroupBy(j => queueFor(j.Kind)))
        {
            var messages = group.Select(Message).ToList();
            if (messages.Count == 1) await group.Key.SendAsync(messages[0], cancellationToken);
            else await group.Key.SendBatchAsync(messages, cancellationToken);
        }
        return outcomes;
    }

    /// <summary>The queue message of a job: MessageId = job id, Subject = kind, application properties kind and source.</summary>
    public static QueueMessage Message(JobEnvelope job)
    {
        ArgumentNullException.ThrowIfNull(job);
        return new QueueMessage
        {
            MessageId = job.JobId,
            Body = job.ToUtf8(),
            ContentType = JobEnvelope.ContentType,
            Subject = job.Kind.ToString(),
            ApplicationProperties = new Dictionary<string, object?> { ["kind"] = job.Kind.ToString(), ["source"] = job.Source },
        };
    }
}
