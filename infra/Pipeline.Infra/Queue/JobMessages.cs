using Pipeline.Infra.Contracts;

namespace Pipeline.Infra.Queue;

/// <summary>Maps job envelopes to queue messages and back.</summary>
public static class JobMessages
{
    /// <summary>The envelope as a message: MessageId = job id, Subject = kind, application properties kind + schemaVersion.</summary>
    public static QueueMessage ToMessage(JobEnvelope envelope, DateTimeOffset? scheduledEnqueueTime = null, TimeSpan? timeToLive = null) => new()
    {
        MessageId = envelope.JobId,
        Body = envelope.ToUtf8(),
        ContentType = JobEnvelope.ContentType,
        Subject = envelope.Kind.ToString().ToLowerInvariant(),
        CorrelationId = envelope.JobId,
        ApplicationProperties = new Dictionary<string, object?>
        {
            ["kind"] = envelope.Kind.ToString().ToLowerInvariant(),
            ["schemaVersion"] = envelope.SchemaVersion,
        },
        ScheduledEnqueueTime = scheduledEnqueueTime,
        TimeToLive = timeToLive,
    };

    /// <summary>Reads the envelope of a received message (throws <see cref="InvalidJobException"/> for poison).</summary>
    public static JobEnvelope ReadEnvelope(this ReceivedMessage message) => JobEnvelope.Parse(message.Body.Span);
}
