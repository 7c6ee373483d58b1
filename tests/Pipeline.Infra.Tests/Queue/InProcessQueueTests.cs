using Pipeline.Infra.Queue;

namespace Pipeline.Infra.Tests.Queue;

public sealed class InProcessQueueTests : QueueContract
{
    private InProcessJobQueue? _queue;

    protected override Task<IJobQueue> CreateQueueAsync() => Task.FromResult<IJobQueue>(_queue = new InProcessJobQueue("jobs", Entity));

    // In-process "clients" share the one queue object; a crashed consumer is one that never settles.
    protected override Task<IJobQueue> OpenAnotherClientAsync() => Task.FromResult<IJobQueue>(new SharedClient(_queue!));

    private sealed class SharedClient(InProcessJobQueue q) : IJobQueue
    {
        public string Name => q.Name;
        public Task SendAsync(QueueMessage message, CancellationToken cancellationToken = default) => q.SendAsync(message, cancellationToken);
        public Task<IReadOnlyList<ReceivedMessage>> ReceiveAsync(int maxMessages, TimeSpan maxWait, SubQueue subQueue = SubQueue.None, CancellationToken cancellationToken = default) => q.ReceiveAsync(maxMessages, maxWait, subQueue, cancellationToken);
        public Task CompleteAsync(ReceivedMessage message, CancellationToken cancellationToken = default) => q.CompleteAsync(message, cancellationToken);
        public Task AbandonAsync(ReceivedMessage message, CancellationToken cancellationToken = default) => q.AbandonAsync(message, cancellationToken);
        public Task DeadLetterAsync(ReceivedMessage message, string reason, string? description = null, CancellationToken cancellationToken = default) => q.DeadLetterAsync(message, reason, description, cancellationToken);
        public Task<DateTimeOffset> RenewLockAsync(ReceivedMessage message, CancellationToken cancellationToken = default) => q.RenewLockAsync(message, cancellationToken);
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
